"""Open the Snakemake report in headless Chromium and save a screenshot; fail if the page renders blank.

    snakemake --report results/report.html
    python tools/screenshot_report.py results/report.html docs/report_screenshot.png

Needs Debian's chromium (apt-get install chromium); the report is a JavaScript page, so a browser is the check.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def screenshot(report: Path, out: Path, width: int = 1400, height: int = 900, wait_ms: int = 15000) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("chromium not found: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--virtual-time-budget={wait_ms}",
                f"--screenshot={out.resolve()}",
                report.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
    image = cv2.imread(str(out))
    if image is None or image.std() < 10:
        sys.exit(f"{out}: the report rendered blank")
    print(f"{out}: {image.shape[1]} x {image.shape[0]} px, pixel sd {image.std():.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    screenshot(args.report, args.out)


if __name__ == "__main__":
    main()

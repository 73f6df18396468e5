"""OpenSeadragon, the page's deep-zoom library: installed from the npm registry by `make setup` into the virtual
environment (OSD_PREFIX), never copied into the repository, and served by the viewer itself (no internet at view
time). SLIDESNAKE_OPENSEADRAGON names another folder holding openseadragon.min.js and images/."""

from __future__ import annotations

import os
import sys
from pathlib import Path

OSD_VERSION = "6.1.1"  # the npm package's version `make setup` installs (the Makefile reads it from here)
OSD_PREFIX = Path("share") / "slidesnake-view"  # under the virtual environment: npm's --prefix
OSD_BUILD = Path("node_modules") / "openseadragon" / "build" / "openseadragon"
OSD_SCRIPT = "openseadragon.min.js"
ENV_VARIABLE = "SLIDESNAKE_OPENSEADRAGON"
INSTALL_HELP = (
    f"OpenSeadragon is not installed: run `make setup` (needs npm), or `npm install --prefix "
    f"{Path(sys.prefix) / OSD_PREFIX} openseadragon@{OSD_VERSION}`, or set {ENV_VARIABLE} to a folder holding "
    f"{OSD_SCRIPT} and images/"
)
STATIC = Path(__file__).parent / "static"


def osd_dir() -> Path | None:
    """The folder holding openseadragon.min.js, or None."""
    candidates = [Path(os.environ[ENV_VARIABLE])] if os.environ.get(ENV_VARIABLE) else []
    candidates += [
        Path(sys.prefix) / OSD_PREFIX / OSD_BUILD,
        Path(__file__).parents[3] / ".venv" / OSD_PREFIX / OSD_BUILD,
    ]
    return next((c for c in candidates if (c / OSD_SCRIPT).is_file()), None)


def status() -> dict:
    found = osd_dir()
    return {"openseadragon": found is not None, "install_help": None if found else INSTALL_HELP}


def page() -> str:
    """The viewer's page; without OpenSeadragon, a page that says how to install it."""
    html = (STATIC / "index.html").read_text()
    if osd_dir() is None:
        return html.replace("<!--osd-missing-->", f'<p id="osd-missing" class="error">{INSTALL_HELP}</p>')
    return html

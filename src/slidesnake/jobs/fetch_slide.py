"""Rule fetch_slide: download or link one slide, check its md5, and check that OpenSlide can read it."""

from __future__ import annotations

from pathlib import Path

from slidesnake.io.download import fetch
from slidesnake.io.params import DownloadParams
from slidesnake.io.slide import check_readable


def run(source: str, kind: str, dest: Path, slide_id: str, md5: str | None, params: DownloadParams) -> dict:
    """Bring the slide to `dest` and open it; errors name the slide and the user's source file."""
    fetch(
        source,
        kind,
        dest,
        md5=md5,
        name=slide_id,
        retries=params.retries,
        backoff=params.backoff_s,
        timeout=params.timeout_s,
    )
    return check_readable(dest, slide_id, source)

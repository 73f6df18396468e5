"""Rule fetch_slide: download or link one slide, check its md5, and check that OpenSlide can read it."""

from __future__ import annotations

import logging
from pathlib import Path

from slidesnake.core.errors import SlideError
from slidesnake.io.download import fetch
from slidesnake.io.params import DownloadParams
from slidesnake.io.slide import check_readable

log = logging.getLogger(__name__)


def run(
    source: str, kind: str, dest: Path, slide_id: str, md5: str | None, params: DownloadParams, strict: bool = True
) -> dict:
    """Bring the slide to `dest` and open it; errors name the slide and the user's source file. A file OpenSlide
    cannot read fails here with `strict` (qc.strict); otherwise it is kept, with a warning, for the mask job to
    exclude with its reason (download and md5 errors always fail)."""
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
    try:
        return check_readable(dest, slide_id, source)
    except SlideError as error:
        if strict:
            raise
        log.warning("%s; the mask job will exclude the slide (qc.strict: false)", error)
        return {"slide": slide_id, "unreadable": str(error)}

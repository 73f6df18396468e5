"""Rule fetch_annotation: download or link one slide's annotation mask."""

from __future__ import annotations

from pathlib import Path

from slidesnake.io.download import fetch
from slidesnake.io.params import DownloadParams


def run(source: str, kind: str, dest: Path, slide_id: str, params: DownloadParams) -> None:
    """Bring the annotation mask of `slide_id` to `dest`."""
    fetch(
        source,
        kind,
        dest,
        name=f"{slide_id} annotation",
        retries=params.retries,
        backoff=params.backoff_s,
        timeout=params.timeout_s,
    )

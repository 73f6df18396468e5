"""Rule fetch_patches: a labelled patch set given as a .zip / .tar (URL or path), downloaded with the slides'
resume / retry / md5 code and unpacked."""

from __future__ import annotations

import shutil
from pathlib import Path

from slidesnake.classifier.patches import read_patch_set, unpack
from slidesnake.io.download import fetch
from slidesnake.io.params import DownloadParams


def run(source: str, kind: str, md5: str | None, out_dir: Path, params: DownloadParams) -> dict:
    """Fetch the archive next to `out_dir`, unpack it into `out_dir` and check it reads as a patch set."""
    archive = out_dir.with_name(out_dir.name + "_" + Path(source.split("?")[0]).name)
    fetch(
        source,
        kind,
        archive,
        md5=md5,
        name="patch set",
        retries=params.retries,
        backoff=params.backoff_s,
        timeout=params.timeout_s,
    )
    root = unpack(archive, out_dir.with_name(out_dir.name + ".partial"))
    patches = read_patch_set(root)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    root.rename(out_dir)
    return {"classes": patches.classes, "patches": len(patches)}

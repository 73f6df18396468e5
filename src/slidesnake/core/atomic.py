"""Write outputs under a temporary name in the same folder and rename them when complete."""

from __future__ import annotations

import contextlib
import glob
import os
from pathlib import Path


def partial_name(path: str | os.PathLike) -> Path:
    """Temporary sibling of `path` that keeps its suffix (writers pick formats by extension)."""
    path = Path(path)
    return path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike):
    """Yield a temporary path; on success rename it to `path`, on error remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.stem)}.partial-*{glob.escape(path.suffix)}"):
        stale.unlink()  # left by a killed earlier attempt (Snakemake runs one job per output)
    tmp = partial_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists() or tmp.is_symlink():
            tmp.unlink()

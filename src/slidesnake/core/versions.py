"""The software stack a run used: Python, platform, git commit, and the versions of key packages."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path

from slidesnake import __version__
from slidesnake.core.provenance import code_hash

PACKAGES = (
    "snakemake",
    "numpy",
    "pandas",
    "h5py",
    "opencv-python-headless",
    "openslide-python",
    "openslide-bin",
    "tifffile",
    "imagecodecs",
    "torch",
    "torchvision",
    "timm",
    "scikit-learn",
    "scikit-image",
    "umap-learn",
    "matplotlib",
    "tqdm",
)


def git_commit(folder: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return (
            out.stdout.strip() + (" (with uncommitted changes)" if dirty else "") if out.returncode == 0 else "unknown"
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def software_versions(workflow_dir: Path) -> list[tuple[str, str]]:
    rows = [
        ("slidesnake", __version__),
        ("slidesnake code hash", code_hash()),
        ("workflow git commit", git_commit(workflow_dir)),
        ("python", platform.python_version()),
        ("platform", platform.platform()),
    ]
    for name in PACKAGES:
        try:
            rows.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    try:
        import torch

        rows.append(("cuda", torch.version.cuda or "none"))
        rows.append(("gpu", torch.cuda.get_device_name() if torch.cuda.is_available() else "none"))
    except ImportError:
        pass
    return rows

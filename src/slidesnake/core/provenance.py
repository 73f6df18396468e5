"""What made an output: package version, parameters and a hash of the package's code."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from slidesnake import __version__

PACKAGE_DIR = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=1)
def code_hash() -> str:
    """sha256 over the package's Python sources (sorted by path)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def provenance_attrs(params: dict) -> dict:
    return {
        "slidesnake_version": __version__,
        "code_hash": code_hash(),
        "params_json": json.dumps(params, sort_keys=True, default=str),
    }

"""Rule extract_features: features of every tile of one slide with one encoder."""

from __future__ import annotations

from pathlib import Path

from slidesnake.features.extract import extract_features
from slidesnake.workflow.params import FeatureParams


def run(slide: Path, tiles: Path, out: Path, params: FeatureParams, slide_id: str, threads: int) -> dict:
    """Encode the tiles of `tiles` (in their order) into the features file `out`."""
    return extract_features(slide, tiles, out, params, slide_id, threads=threads)

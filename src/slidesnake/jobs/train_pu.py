"""Rule train_pu: out-of-fold tile tumor probabilities from partial annotations (nnPU / PNU and the naive
baseline), slide scores, and the class prior estimates (slidesnake.pu.folds holds the per-fold loop)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from slidesnake.core.atomic import atomic_output
from slidesnake.core.errors import SlideError
from slidesnake.core.provenance import provenance_attrs
from slidesnake.evaluation.splits import read_splits, usable_splits
from slidesnake.io.corrected_labels import read_corrected_labels
from slidesnake.io.feature_file import read_feature_file
from slidesnake.io.manifest import read_manifest
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_scores import write_tile_scores
from slidesnake.pu.folds import SlideTiles, cross_validate_pu
from slidesnake.pu.params import PUParams


def load_tiles(
    slide_id: str, feature_path: Path, tiles_path: Path, corrected: Path | None = None
) -> tuple[SlideTiles, np.ndarray]:
    """Features and annotated tumor share of one slide's tiles, and their coords (features and tiles must agree);
    with `corrected` (the slide's corrected tile labels) its tumor share, confirmed negative and ignored tiles."""
    features, coords, _ = read_feature_file(feature_path)
    tiles = TileFile.read(tiles_path)
    if not np.array_equal(coords, tiles.coords):
        raise SlideError(slide_id, f"{feature_path} and {tiles_path} list different tiles; rerun its features")
    if corrected is not None:
        labels = read_corrected_labels(corrected, slide_id, coords)
        return SlideTiles(features, labels.tumor, labels.negative, labels.ignored), coords
    return SlideTiles(features, tiles.annotated_tumor()), coords


def run(
    task: str,
    positive_class: str,
    splits_csv: Path,
    feature_manifest: Path,
    params: PUParams,
    tile_scores_path: Path,
    slide_scores_path: Path,
    prior_path: Path,
    corrected: dict[str, str] | None = None,
) -> dict:
    """PU learning on every fold of the task's splits (the slides the feature manifest lists as OK); writes the
    test slides' tile scores, their slide scores and the per-fold prior estimates. `corrected`: slide -> its
    corrected tile labels (rule merge_corrections), read in place of the tiles files' annotation."""
    manifest = read_manifest(feature_manifest)
    splits = usable_splits(read_splits(splits_csv), manifest)
    corrected = corrected or {}
    loaded = {
        s: load_tiles(
            s, Path(manifest[s]["features"]), Path(manifest[s]["tiles"]), Path(corrected[s]) if s in corrected else None
        )
        for s in splits["slide_id"]
    }
    result = cross_validate_pu(task, positive_class, splits, {s: tiles for s, (tiles, _) in loaded.items()}, params)
    write_tile_scores(
        tile_scores_path,
        result.tile_scores,
        {s: loaded[s][1] for s in result.tile_scores},
        {"task": task, "positive_class": positive_class, **provenance_attrs(asdict(params))},
    )
    with atomic_output(slide_scores_path) as tmp:
        pd.DataFrame(result.slide_rows).to_csv(tmp, index=False)
    summary = result.summary(task)
    with atomic_output(prior_path) as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    return summary

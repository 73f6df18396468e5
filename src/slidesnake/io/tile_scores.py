"""Tile-score files: one HDF5 group per slide with its coords and one dataset per score name.

Score names: `score` (a MIL model's per-tile evidence for the positive class), `attention` (attention
models' attention weights), `nnpu` and `naive` (tumor probabilities of the PU tile classifier and of its
naive baseline), `tumor_mask` (PU: 1 where nnPU's probability reaches the fold's mask threshold). File
attributes (ATTRIBUTES): `score_kinds` (JSON) says what each MIL score is, and
`tile_px_level0` the level-0 side of the scored boxes (tiles, or HIPT's regions); the writer's other attributes
(model, task, fold, provenance) describe what made the scores.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from slidesnake.core.atomic import atomic_output
from slidesnake.io.tile_file import COORDS, TILE_PX_LEVEL0

MIL_SCORE = "score"
MIL_ATTENTION = "attention"
PU_SCORE = "nnpu"
PU_BASELINE = "naive"
PU_MODES = (PU_SCORE, PU_BASELINE)
PU_MASK = "tumor_mask"  # 1 for the tiles the nnPU tumor mask calls tumor (its threshold: the PU prior file)
SCORE_KINDS = "score_kinds"
ATTRIBUTES = (SCORE_KINDS, TILE_PX_LEVEL0)


def write_tile_scores(
    path: Path,
    scores: dict[str, dict[str, np.ndarray]],
    coords: dict[str, np.ndarray],
    attrs: dict,
    score_kinds: dict[str, str] | None = None,
    box_size0: int | None = None,
) -> None:
    """slide -> score name -> values, with the slides' coords; `score_kinds` (score name -> what it is) and
    `box_size0` (level-0 side of the scored boxes; 0 when no slide was scored) are recorded when given."""
    owned = {} if score_kinds is None else {SCORE_KINDS: json.dumps(score_kinds)}
    if box_size0 is not None:
        owned[TILE_PX_LEVEL0] = box_size0
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        for key, value in {**attrs, **owned}.items():
            h5.attrs[key] = value
        for slide, named in scores.items():
            group = h5.create_group(slide)
            group.create_dataset(COORDS, data=coords[slide])
            for name, values in named.items():
                group.create_dataset(name, data=np.asarray(values, np.float32))


def read_tile_scores(paths: list[Path], name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """slide -> (coords, scores `name`) from one or more tile-score files."""
    found = {}
    for path in paths:
        with h5py.File(path, "r") as h5:
            for slide in h5:
                found[slide] = (h5[slide][COORDS][:], h5[slide][name][:])
    return found


def score_kind(path: Path, name: str) -> str:
    """What a file's score `name` is, as its writer recorded it."""
    with h5py.File(path, "r") as h5:
        return json.loads(h5.attrs.get(SCORE_KINDS, "{}")).get(name, name)


def scored_box_size(path: Path) -> int | None:
    """Level-0 side of the boxes the scores belong to (tiles or regions), when the writer recorded it."""
    with h5py.File(path, "r") as h5:
        size = int(h5.attrs.get(TILE_PX_LEVEL0, 0))
    return size or None


def score_names(path: Path) -> list[str]:
    """The score names a tile-score file holds (those of its first slide)."""
    with h5py.File(path, "r") as h5:
        first = next(iter(h5.values()), None)
        return [] if first is None else [k for k in first if k != COORDS]


def rank_within_slide(scores: np.ndarray) -> np.ndarray:
    """Scores mapped to (0, 1] by their rank within the slide, so that scores of different slides and models
    compare: the one rank normalisation of heatmaps and pooled tile AUCs."""
    scores = np.asarray(scores)
    if not len(scores):
        return scores.astype(np.float64)
    return (np.argsort(np.argsort(scores)) + 1) / len(scores)

"""Rule export_clam: every slide's tiles and features in the layout CLAM reads (slidesnake.io.exports)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from slidesnake.core.atomic import atomic_output
from slidesnake.io.exports import clam_attrs, exportable, write_coords, write_features
from slidesnake.io.feature_file import read_feature_file
from slidesnake.io.tile_file import TileFile
from slidesnake.workflow import paths

log = logging.getLogger(__name__)


def run(tiles: dict[str, str], features: dict[str, dict[str, str]], out_dir: Path) -> None:
    """`patches/{slide}.h5` per slide; per encoder `features_{encoder}/h5_files/{slide}.h5` and
    `pt_files/{slide}.pt` (features: encoder -> slide -> features file)."""
    tiles, features = exportable(tiles, features)
    for slide, path in tiles.items():
        tile_file = TileFile.read(path)
        patches = Path(paths.fill(paths.PEER_PATCHES[paths.CLAM], folder=out_dir, slide=slide))
        write_coords(patches, tile_file.coords, clam_attrs(tile_file, str(patches.parent)))
    for encoder, files in features.items():
        folder = out_dir / f"features_{encoder}"
        for slide, path in files.items():
            values, coords, _ = read_feature_file(path)
            peer = paths.fill(paths.PEER_FEATURES[paths.CLAM], folder=folder, encoder=encoder, slide=slide)
            write_features(Path(peer), values, coords, {})
            (folder / "pt_files").mkdir(parents=True, exist_ok=True)
            with atomic_output(folder / "pt_files" / f"{slide}.pt") as tmp:
                torch.save(torch.from_numpy(values), tmp)
    log.info("CLAM layout of %d slides and %d encoders in %s", len(tiles), len(features), out_dir)

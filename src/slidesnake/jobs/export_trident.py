"""Rule export_trident: every slide's tiles and features in the layout TRIDENT reads (slidesnake.io.exports)."""

from __future__ import annotations

import logging
from pathlib import Path

from slidesnake.io.exports import (
    exportable,
    trident_attrs,
    trident_feature_names,
    trident_folder,
    write_coords,
    write_features,
)
from slidesnake.io.feature_file import read_feature_file
from slidesnake.io.tile_file import TileFile
from slidesnake.workflow import paths

log = logging.getLogger(__name__)


def run(tiles: dict[str, str], features: dict[str, dict[str, str]], out_dir: Path) -> None:
    """`{mag}x_{px}px_{overlap}px_overlap/patches/{slide}_patches.h5` per slide and, next to it,
    `features_{name}/{slide}.h5` per encoder, named as TRIDENT names the same encoder where it has it
    (slidesnake.io.exports.trident_feature_names; features: encoder -> slide -> features file)."""
    tiles, features = exportable(tiles, features)
    attrs = {}
    for slide, path in tiles.items():
        tile_file = TileFile.read(path)
        folder = out_dir / trident_folder(tile_file)
        patches = Path(paths.fill(paths.PEER_PATCHES[paths.TRIDENT], folder=folder, slide=slide))
        attrs[slide] = (folder, trident_attrs(tile_file, str(patches.parent)))
        write_coords(patches, tile_file.coords, attrs[slide][1])
    names = trident_feature_names(features)
    for encoder, files in features.items():
        for slide, path in files.items():
            values, coords, _ = read_feature_file(path)
            folder, coords_attrs = attrs[slide]
            peer = paths.fill(paths.PEER_FEATURES[paths.TRIDENT], folder=folder, encoder=names[encoder], slide=slide)
            write_features(Path(peer), values, coords, coords_attrs)
    log.info("TRIDENT layout of %d slides and %d encoders in %s", len(tiles), len(features), out_dir)

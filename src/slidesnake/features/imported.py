"""Features computed by CLAM or TRIDENT, brought in as this workflow's features files
(features.encoders.<name>.import_features): each slide's peer file is matched to its tiles file by coordinates,
and the features file records which tool and encoder made them and from which file."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict
from pathlib import Path

from slidesnake.core.provenance import provenance_attrs
from slidesnake.features.params import FeatureParams
from slidesnake.io.feature_file import WEIGHTS, FeatureAttrs, write_feature_file
from slidesnake.io.imports import read_features
from slidesnake.io.tile_file import TileFile

log = logging.getLogger(__name__)
UNKNOWN_NORM = ((math.nan,) * 3, (math.nan,) * 3)  # the peer's input normalisation is not recorded in its files
IMPORTED = "imported"  # reader, decoder and precision of imported features: not this workflow's


def import_slide(params: FeatureParams, peer_h5: Path, tiles_h5: Path, out_h5: Path, slide_id: str) -> dict:
    """Write the features of `peer_h5` (a CLAM or TRIDENT feature file, params.import_features) for every tile of
    `tiles_h5`, in its order, atomically to `out_h5`."""
    start = time.perf_counter()
    tiles = TileFile.read(tiles_h5)
    tool = params.import_features["format"]
    features = read_features(peer_h5, tool, slide_id, tiles.coords, tiles.size0)
    attrs = FeatureAttrs(
        encoder=params.import_features["encoder"],
        weights={WEIGHTS: f"{tool} features {peer_h5}"},
        input_size=0,
        norm=UNKNOWN_NORM,
        reader=f"{IMPORTED} ({tool})",
        decoder=IMPORTED,
        read_level=-1,
        precision=IMPORTED,
        stain_normalisation="none",
        stain_reference="",
        provenance=provenance_attrs(asdict(params)),
    )
    write_feature_file(out_h5, features, tiles, attrs)
    summary = {"slide": slide_id, "tiles": len(tiles), "dim": features.shape[1], "from": str(peer_h5)}
    log.info("%s", summary)
    return {**summary, "seconds": round(time.perf_counter() - start, 3)}

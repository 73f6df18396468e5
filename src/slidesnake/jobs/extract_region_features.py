"""Rule extract_region_features: HIPT region features of a shard of slides, ViT-256 and ViT-4K loaded once;
a slide that fails is recorded and the others go on (rule collect_region_features puts each file in place)."""

from __future__ import annotations

import logging
from pathlib import Path

from slidesnake.core.errors import SlidesnakeError
from slidesnake.features.regions import encode_regions, load_region_encoder
from slidesnake.io.shard_table import FAILED, OK, write_shard_table
from slidesnake.workflow.params import RegionFeatureParams

log = logging.getLogger(__name__)


def run(slides: dict[str, dict], params: RegionFeatureParams, shard_table: Path, threads: int) -> list[dict]:
    """Encode the regions of one shard's slides (slide -> {"slide", "regions", "features"}); write the table."""
    encoder = load_region_encoder(params, threads)
    rows = []
    for slide_id, files in slides.items():
        try:
            summary = encode_regions(encoder, Path(files["slide"]), Path(files["regions"]), Path(files["features"]),
                                     slide_id)
            rows.append({"slide_id": slide_id, "status": OK, "features": files["features"],
                         "tiles": summary["regions"], "seconds": summary["seconds"], "error": ""})
        except (SlidesnakeError, OSError, ValueError, RuntimeError) as error:
            log.error("slide '%s' failed: %s", slide_id, error)
            rows.append({"slide_id": slide_id, "status": FAILED, "features": "", "tiles": "", "seconds": "",
                         "error": f"{type(error).__name__}: {error}"})
    write_shard_table(shard_table, rows)
    return rows

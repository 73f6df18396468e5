"""Rule extract_region_features: HIPT region features of a shard of slides, ViT-256 and ViT-4K loaded once;
a slide that fails is recorded and the others go on (rule collect_region_features puts each file in place)."""

from __future__ import annotations

from pathlib import Path

from slidesnake.features.params import RegionFeatureParams
from slidesnake.features.regions import encode_regions, load_region_encoder
from slidesnake.io.shard_table import run_shard


def run(slides: dict[str, dict], params: RegionFeatureParams, shard_table: Path, threads: int) -> list[dict]:
    """Encode the regions of one shard's slides (slide -> {"slide", "regions", "features"}); write the table."""
    encoder = load_region_encoder(params, threads)

    def encode(slide_id: str, files: dict) -> tuple[int, float]:
        summary = encode_regions(
            encoder, Path(files["slide"]), Path(files["regions"]), Path(files["features"]), slide_id
        )
        return summary["regions"], summary["seconds"]

    return run_shard(slides, encode, "features", shard_table, "region features", "regions", "extract_region_features")

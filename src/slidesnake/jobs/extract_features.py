"""Rule extract_features: features of every tile of a shard of slides with one encoder, loaded once.

Each slide's file is written atomically on its own into the shard's folder; a slide that fails (unreadable,
no such level, ...) is recorded with its error and the others go on. The shard's table lists every slide's
outcome; rule collect_features then puts each slide's file in place (or fails that slide alone)."""

from __future__ import annotations

from pathlib import Path

from slidesnake.features.extract import encode_slide, load_encoder
from slidesnake.features.params import FeatureParams
from slidesnake.io.shard_table import run_shard


def run(
    slides: dict[str, dict], params: FeatureParams, shard_table: Path, threads: int, stain_reference: Path | None = None
) -> list[dict]:
    """Encode the slides of one shard (slide -> {"slide", "tiles", "features"} paths); write the shard table.
    `stain_reference`: the reference file of an encoder that normalises stain."""
    encoder = load_encoder(params, threads, stain_reference)

    def encode(slide_id: str, files: dict) -> tuple[int, float]:
        summary = encode_slide(encoder, Path(files["slide"]), Path(files["tiles"]), Path(files["features"]), slide_id)
        return summary["tiles"], summary["seconds"]

    return run_shard(slides, encode, "features", shard_table, f"features {params.model}", "tiles", "extract_features")

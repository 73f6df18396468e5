"""Rule extract_features: features of every tile of a shard of slides with one encoder, loaded once.

Each slide's file is written atomically on its own into the shard's folder; a slide that fails (unreadable,
no such level, ...) is recorded with its error and the others go on. The shard's table lists every slide's
outcome; rule collect_features then puts each slide's file in place (or fails that slide alone)."""

from __future__ import annotations

from pathlib import Path

from slidesnake.features.extract import encode_slide, load_encoder
from slidesnake.features.imported import import_slide
from slidesnake.features.params import FeatureParams
from slidesnake.io.shard_table import run_shard


def run(
    slides: dict[str, dict],
    params: FeatureParams,
    shard_table: Path,
    threads: int,
    stain_reference: Path | None = None,
    imported: dict[str, str] | None = None,
) -> list[dict]:
    """Encode the slides of one shard (slide -> {"slide", "tiles", "features"} paths); write the shard table.
    `stain_reference`: the reference file of an encoder that normalises stain; `imported`: slide -> its CLAM or
    TRIDENT feature file, for an encoder whose features are imported (params.import_features) instead of computed."""
    if params.import_features:

        def encode(slide_id: str, files: dict) -> tuple[int, float]:
            peer = Path(imported[slide_id])
            summary = import_slide(params, peer, Path(files["tiles"]), Path(files["features"]), slide_id)
            return summary["tiles"], summary["seconds"]

        label = f"features from {params.import_features['format']} ({params.import_features['encoder']})"
    else:
        encoder = load_encoder(params, threads, stain_reference)

        def encode(slide_id: str, files: dict) -> tuple[int, float]:
            summary = encode_slide(
                encoder, Path(files["slide"]), Path(files["tiles"]), Path(files["features"]), slide_id
            )
            return summary["tiles"], summary["seconds"]

        label = f"features {params.model}"
    return run_shard(slides, encode, "features", shard_table, label, "tiles", "extract_features")

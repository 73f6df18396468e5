"""Rule extract_features: features of every tile of a shard of slides with one encoder, loaded once.

Each slide's file is written atomically on its own into the shard's folder; a slide that fails (unreadable,
no such level, ...) is recorded with its error and the others go on. The shard's table lists every slide's
outcome; rule collect_features then puts each slide's file in place (or fails that slide alone)."""

from __future__ import annotations

import logging
from pathlib import Path

from slidesnake.core.errors import SlidesnakeError
from slidesnake.features.extract import encode_slide, load_encoder
from slidesnake.io.shard_table import FAILED, OK, write_shard_table
from slidesnake.workflow.params import FeatureParams

log = logging.getLogger(__name__)


def run(slides: dict[str, dict], params: FeatureParams, shard_table: Path, threads: int,
        stain_reference: Path | None = None) -> list[dict]:
    """Encode the slides of one shard (slide -> {"slide", "tiles", "features"} paths); write the shard table.
    `stain_reference`: the reference file of an encoder that normalises stain."""
    encoder = load_encoder(params, threads, stain_reference)
    rows = []
    for slide_id, files in slides.items():
        try:
            summary = encode_slide(encoder, Path(files["slide"]), Path(files["tiles"]), Path(files["features"]),
                                   slide_id)
            rows.append({"slide_id": slide_id, "status": OK, "features": files["features"], "tiles": summary["tiles"],
                         "seconds": summary["seconds"], "error": ""})
        except (SlidesnakeError, OSError, ValueError, RuntimeError) as error:
            log.error("slide '%s' failed: %s", slide_id, error)
            rows.append({"slide_id": slide_id, "status": FAILED, "features": "", "tiles": "", "seconds": "",
                         "error": f"{type(error).__name__}: {error}"})
    write_shard_table(shard_table, rows)
    failed = [r["slide_id"] for r in rows if r["status"] == FAILED]
    log.info("%d of %d slides encoded%s", len(rows) - len(failed), len(rows),
             f"; failed: {', '.join(failed)}" if failed else "")
    return rows

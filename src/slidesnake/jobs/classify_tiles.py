"""Rule classify_tiles: class probabilities of every tile of a shard of slides, the classifier loaded once;
a slide that fails is recorded and the others go on (rule collect_tile_classes puts each file in place)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from slidesnake.classifier.model import load_classifier
from slidesnake.classifier.predict import classify_slide
from slidesnake.core.errors import SlidesnakeError
from slidesnake.core.provenance import provenance_attrs
from slidesnake.features.reader import resolve_device
from slidesnake.io.shard_table import FAILED, OK, write_shard_table
from slidesnake.io.tile_classes import write_tile_classes

log = logging.getLogger(__name__)


def run(model_path: Path, slides: dict[str, dict], batch_size: int, num_workers: int, shard_table: Path,
        threads: int) -> list[dict]:
    """Classify the slides of one shard (slide -> {"slide", "tiles", "classes"} paths); write the shard table."""
    torch.set_num_threads(max(1, threads))
    device = resolve_device("auto")
    net, spec, checkpoint = load_classifier(model_path)
    net.to(device)
    rows = []
    for slide_id, files in slides.items():
        try:
            coords, probabilities, summary = classify_slide(net, spec, checkpoint, Path(files["slide"]),
                                                            Path(files["tiles"]), slide_id, device, batch_size,
                                                            num_workers)
            write_tile_classes(Path(files["classes"]), coords, probabilities, checkpoint["classes"],
                               {"classifier": checkpoint["model"], "backbone_weights": checkpoint["backbone_weights"],
                                "patch_mpp": checkpoint["patch_mpp"], "patch_px": checkpoint["patch_px"],
                                **provenance_attrs({"model": str(model_path)})})
            rows.append({"slide_id": slide_id, "status": OK, "features": files["classes"], "tiles": summary["tiles"],
                         "seconds": summary["seconds"], "error": ""})
        except (SlidesnakeError, OSError, ValueError, RuntimeError) as error:
            log.error("slide '%s' failed: %s", slide_id, error)
            rows.append({"slide_id": slide_id, "status": FAILED, "features": "", "tiles": "", "seconds": "",
                         "error": f"{type(error).__name__}: {error}"})
    write_shard_table(shard_table, rows)
    return rows

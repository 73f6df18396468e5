"""Rule classify_tiles: class probabilities of every tile of a shard of slides, the classifier loaded once;
a slide that fails is recorded and the others go on (rule collect_tile_classes puts each file in place)."""

from __future__ import annotations

from pathlib import Path

import torch

from slidesnake.classifier.model import load_classifier
from slidesnake.classifier.predict import classify_slide
from slidesnake.core.provenance import provenance_attrs
from slidesnake.io.shard_table import run_shard
from slidesnake.io.tile_classes import write_tile_classes
from slidesnake.io.tile_reader import resolve_device


def run(
    model_path: Path, slides: dict[str, dict], batch_size: int, num_workers: int, shard_table: Path, threads: int
) -> list[dict]:
    """Classify the slides of one shard (slide -> {"slide", "tiles", "classes"} paths); write the shard table."""
    torch.set_num_threads(max(1, threads))
    device = resolve_device("auto")
    net, spec, checkpoint = load_classifier(model_path)
    net.to(device)
    attrs = {
        "classifier": checkpoint["model"],
        "backbone_weights": checkpoint["backbone_weights"],
        "patch_mpp": checkpoint["patch_mpp"],
        "patch_px": checkpoint["patch_px"],
        **provenance_attrs({"model": str(model_path)}),
    }

    def classify(slide_id: str, files: dict) -> tuple[int, float]:
        coords, probabilities, summary = classify_slide(
            net, spec, checkpoint, Path(files["slide"]), Path(files["tiles"]), slide_id, device, batch_size, num_workers
        )
        write_tile_classes(Path(files["classes"]), coords, probabilities, checkpoint["classes"], attrs)
        return summary["tiles"], summary["seconds"]

    what = f"tile classes {checkpoint['model']}"
    return run_shard(slides, classify, "classes", shard_table, what, "tiles", "classify_tiles")

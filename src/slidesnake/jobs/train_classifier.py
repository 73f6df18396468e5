"""Rule train_classifier: the tile classifier fine-tuned on the labelled patch set, with its test report."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

from slidesnake.classifier.model import build_classifier, save_classifier
from slidesnake.classifier.params import ClassifierParams
from slidesnake.classifier.patches import TEST, assign_splits, read_patch_set
from slidesnake.classifier.train import PatchDataset, classification_report, predict_patches, train_tile_classifier
from slidesnake.core.atomic import atomic_output
from slidesnake.core.partitions import PARTITIONS
from slidesnake.io.tile_reader import resolve_device

log = logging.getLogger(__name__)


def native_patch_px(paths: list[Path], sample: int = 50) -> int:
    """The most common side of the patch images (the field of view the classifier learns)."""
    sides = [max(cv2.imread(str(p), cv2.IMREAD_UNCHANGED).shape[:2]) for p in paths[:sample]]
    return Counter(sides).most_common(1)[0][0]


def run(patch_dir: Path, params: ClassifierParams, model_path: Path, metrics_path: Path, threads: int) -> dict:
    """Split the patch set (its own split folders, else stratified), train head then network, report the
    held-out test patches; write the checkpoint and metrics (with the per-epoch history)."""
    torch.set_num_threads(max(1, threads))
    patches = read_patch_set(patch_dir)
    splits = assign_splits(patches, params.validation_share, params.test_share, params.seed)
    device = resolve_device("auto")
    net, spec, source = build_classifier(params.model, params.weights, len(patches.classes), params.seed)
    log.info(
        "%d patches of %d classes: %s",
        len(patches),
        len(patches.classes),
        {s: int((splits == s).sum()) for s in PARTITIONS},
    )
    history = train_tile_classifier(net, spec, patches, splits, params, device)
    test_rows = np.flatnonzero(splits == TEST)
    report = None
    if len(test_rows):
        loader = DataLoader(PatchDataset(patches, test_rows, spec.input_size), batch_size=params.batch_size)
        probabilities, labels = predict_patches(net, spec, loader, device)
        report = classification_report(probabilities, labels, patches.classes, params.top_k)
    save_classifier(
        model_path, net.cpu(), params.model, patches.classes, params.patch_mpp, native_patch_px(patches.paths), source
    )
    metrics = {
        "classes": patches.classes,
        "test": report,
        "history": history,
        "backbone_weights": source,
        "splits": {s: int((splits == s).sum()) for s in PARTITIONS},
    }
    with atomic_output(metrics_path) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2))
    log.info("test: %s", {k: v for k, v in (report or {}).items() if k not in ("per_class", "confusion_matrix")})
    return metrics

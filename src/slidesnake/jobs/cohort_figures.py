"""Rule cohort_figures: ROC curves, confusion matrices, reliability diagrams, training curves, tiles and tissue area
per slide."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from slidesnake.core.atomic import atomic_output
from slidesnake.core.labels import positive_class
from slidesnake.figures import cohort
from slidesnake.io.manifest import read_manifest
from slidesnake.io.mask_info import MaskInfo
from slidesnake.io.predictions import read_predictions
from slidesnake.io.tile_file import TileFile


def run(
    classes: list[str],
    predictions: dict[str, list[Path]],
    metrics: dict[str, list[Path]],
    slide_manifest: Path,
    labels: dict[str, str],
    outputs: dict[str, Path],
) -> dict:
    """Write the six cohort figures named in `outputs` (roc, confusion, reliability, training_curves,
    tiles_per_slide, tissue_area); returns each model's fold AUC mean and spread."""
    tables = {m: read_predictions(files) for m, files in predictions.items()}
    with atomic_output(outputs["roc"]) as tmp:
        summary = cohort.roc_figure(tmp, tables, positive_class(classes))
    with atomic_output(outputs["confusion"]) as tmp:
        cohort.confusion_figure(tmp, tables, classes)
    with atomic_output(outputs["reliability"]) as tmp:
        cohort.reliability_figure(tmp, tables, positive_class(classes))
    with atomic_output(outputs["training_curves"]) as tmp:
        cohort.training_curves_figure(tmp, metrics)
    per_slide = []
    for slide, row in read_manifest(slide_manifest).items():
        per_slide.append(
            {
                "slide_id": slide,
                "tiles": TileFile.count(row["tiles"]),
                "tissue_mm2": MaskInfo.read(row["mask_info"]).tissue_area_mm2,
                "label": labels.get(slide),
            }
        )
    table = pd.DataFrame(per_slide)
    with atomic_output(outputs["tiles_per_slide"]) as tmp:
        cohort.per_slide_bars(tmp, table, "tiles", "tiles")
    with atomic_output(outputs["tissue_area"]) as tmp:
        cohort.per_slide_bars(tmp, table, "tissue_mm2", "tissue area (mm²)")
    return summary

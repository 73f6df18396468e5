"""Rule tissue_composition: per slide the share of tiles of each predicted class, and, where truth masks
exist (the demo), how well the tumor class's probability localises truth tumor."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from slidesnake.core.atomic import atomic_output
from slidesnake.evaluation.localisation import localisation, truth_tumor_fraction
from slidesnake.io.manifest import read_manifest
from slidesnake.io.tile_classes import passed, read_tile_classes
from slidesnake.io.tile_file import TileFile

log = logging.getLogger(__name__)


def run(
    tile_classes: dict[str, str],
    slide_manifests: list[str],
    tumor_class: str,
    composition_csv: Path,
    localisation_json: Path,
) -> dict:
    """Write the cohort's tissue composition (argmax shares and mean probabilities per class) and the tumor
    class's localisation against truth (tile AUC per slide, its mean with a bootstrap interval)."""
    manifest = {s: row for path in slide_manifests for s, row in read_manifest(path).items()}
    rows, tumor_scores, truth = [], {}, {}
    classes = None
    for slide, path in passed(tile_classes).items():
        coords, probabilities, classes = read_tile_classes(Path(path))
        predicted = probabilities.argmax(1) if len(probabilities) else np.zeros(0, int)
        rows.append(
            {
                "slide_id": slide,
                "tiles": len(coords),
                **{
                    f"share_{c}": float((predicted == i).mean()) if len(predicted) else 0.0
                    for i, c in enumerate(classes)
                },
                **{
                    f"mean_p_{c}": float(probabilities[:, i].mean()) if len(predicted) else 0.0
                    for i, c in enumerate(classes)
                },
            }
        )
        if tumor_class in classes and manifest.get(slide, {}).get("truth"):
            tumor_scores[slide] = probabilities[:, classes.index(tumor_class)]
            truth[slide] = truth_tumor_fraction(Path(manifest[slide]["truth"]), TileFile.read(manifest[slide]["tiles"]))
    with atomic_output(composition_csv) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    summary = {
        "tumor_class": tumor_class,
        "classes": classes,
        "localisation": localisation(tumor_scores, truth, list(truth)) if truth else None,
    }
    with atomic_output(localisation_json) as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    if summary["localisation"]:
        log.info(
            "tumor class localises truth tumor: tile AUC %.3f (mean per slide, %d slides)",
            summary["localisation"]["mean_slide_auc"],
            summary["localisation"]["slides"],
        )
    return summary

"""Rule endpoint_figures: the Kaplan-Meier figure of a survival task, the predicted-against-true scatter of a
regression task."""

from __future__ import annotations

import json
from pathlib import Path

from slidesnake.core.atomic import atomic_output
from slidesnake.core.labels import OUTPUT_NAMES
from slidesnake.figures.endpoints import ENDPOINT_FIGURES
from slidesnake.io.predictions import read_predictions


def run(kind: str, name: str, predictions: dict[str, list[Path]], evaluation_json: Path, out: Path) -> None:
    """Draw figure `name` (kaplan_meier, scatter) of every model's out-of-fold predictions, with the metrics and
    intervals of the task's evaluation."""
    tables = {m: read_predictions(files).reset_index(drop=True) for m, files in predictions.items()}
    entries = json.loads(Path(evaluation_json).read_text())["models"]
    with atomic_output(out) as tmp:
        ENDPOINT_FIGURES[name](tmp, tables, entries, OUTPUT_NAMES[kind])

"""What a results folder holds for the viewer: the cohort's slides with their label, predictions and QC status,
and each slide's layers (the files the workflow wrote for it, found through the path templates of
slidesnake.workflow.paths), with the files a layer needs and does not find named.

Works on a finished or a partial run: every table and file is optional; what is absent is reported, not raised.
"""

from __future__ import annotations

import csv
import glob
import re
from dataclasses import dataclass, field
from pathlib import Path

import h5py

from slidesnake.core.labels import OUTPUT_NAMES
from slidesnake.io.exclusion import OK, REASON, STAGE, STATUS
from slidesnake.io.manifest import N_TILES, read_manifest
from slidesnake.io.predictions import PROBABILITY_PREFIX
from slidesnake.io.tile_file import COORDS
from slidesnake.io.tile_scores import PU_BASELINE, PU_MASK, PU_SCORE
from slidesnake.workflow import paths

COHORTS = (paths.TRAIN_COHORT, paths.NEW_COHORT)
# layer kinds: how a layer's file is drawn (slidesnake.view.layers)
TISSUE, LABELS, SCORES, CLASSES, GRID = "tissue", "labels", "scores", "classes", "grid"
RAW_SCORES = (PU_SCORE, PU_BASELINE, PU_MASK)  # probabilities in [0, 1], drawn as they are; the others by rank


@dataclass
class Layer:
    """One overlay of a slide: `key` names it in URLs, `file` is what it draws (`score`: the dataset in it)."""

    key: str
    name: str
    kind: str
    file: Path
    score: str | None = None
    group: str | None = None  # the HDF5 group of the slide in a multi-slide file (tile scores)

    @property
    def present(self) -> bool:
        return self.file.exists()


@dataclass
class SlideEntry:
    slide_id: str
    cohort: str
    file: Path | None
    label: str | None = None
    predictions: dict[str, dict] = field(default_factory=dict)  # "task/model" -> prediction, probability
    qc: dict = field(default_factory=dict)  # the QC table's row
    manifest: dict = field(default_factory=dict)  # the slide manifest's row


class Results:
    """A results folder (`results/` of a workflow run); relative paths in its tables are read from its parent."""

    def __init__(self, results_dir: str | Path):
        self.dir = Path(results_dir).resolve()
        if not self.dir.is_dir():
            raise FileNotFoundError(f"{results_dir}: no such results folder")
        self.workdir = self.dir.parent

    def path(self, filled: str | Path) -> Path:
        """A filled path template or a table's path cell as a file of this results folder."""
        text = str(filled)
        if Path(text).is_absolute():
            return Path(text)
        prefix = paths.RESULTS + "/"
        return self.dir / text[len(prefix) :] if text.startswith(prefix) else self.workdir / text

    def matches(self, template: str, **fixed) -> list[dict]:
        """The wildcard values of every existing file of `template` (some wildcards fixed)."""
        partial = paths.fill_some(template, **fixed)
        names = re.findall(r"{(\w+)}", partial)
        pattern = str(self.path(re.sub(r"{\w+}", "*", partial)))
        regex = re.escape(str(self.path(partial)))
        for name in dict.fromkeys(names):
            regex = regex.replace(re.escape("{" + name + "}"), f"(?P<{name}>[^/]+)", 1)
            regex = regex.replace(re.escape("{" + name + "}"), f"(?P={name})")
        found = []
        for hit in sorted(glob.glob(pattern)):
            match = re.fullmatch(regex, hit)
            if match:
                found.append(match.groupdict())
        return found

    # the cohort
    def slides(self) -> list[SlideEntry]:
        """Every slide of the cohort manifests (else the slides folder), with label, predictions and QC row."""
        entries: dict[str, SlideEntry] = {}
        for cohort in COHORTS:
            manifest = self.path(paths.fill(paths.SLIDE_MANIFEST, cohort=cohort))
            qc = self.path(paths.fill(paths.QC_TABLE, cohort=cohort))
            rows = read_manifest(manifest, every=True) if manifest.exists() else {}
            qc_rows = _read_table(qc, "\t")
            for slide, row in rows.items():
                entries[slide] = SlideEntry(slide, cohort, self.path(row["slide"]) if row.get("slide") else None)
                entries[slide].manifest = row
            for slide, row in qc_rows.items():
                entries.setdefault(slide, SlideEntry(slide, cohort, None)).qc = row
        for found in self.matches(paths.SLIDE):  # a partial run without manifests: the fetched slides
            if found["slide"] not in entries:
                entries[found["slide"]] = SlideEntry(found["slide"], "", self.path(paths.fill(paths.SLIDE, **found)))
            elif entries[found["slide"]].file is None:
                entries[found["slide"]].file = self.path(paths.fill(paths.SLIDE, **found))
        self._add_predictions(entries)
        return sorted(entries.values(), key=lambda e: (e.cohort != paths.TRAIN_COHORT, e.slide_id))

    def _add_predictions(self, entries: dict[str, SlideEntry]) -> None:
        for template in (paths.OOF_SLIDE_PREDICTIONS, paths.NEW_SLIDE_PREDICTIONS):
            for found in self.matches(template):
                table = _read_table(self.path(paths.fill(template, **found)), ",")
                for slide, row in table.items():
                    if slide not in entries:
                        continue
                    probabilities = {k[len(PROBABILITY_PREFIX) :]: float(v) for k, v in row.items() if _is_prob(k)}
                    prediction = row.get("prediction")
                    if prediction is None:  # a survival or regression task: its risk or predicted value
                        output = next((name for name in OUTPUT_NAMES.values() if row.get(name)), None)
                        prediction = f"{output.replace('_', ' ')} {float(row[output]):.3g}" if output else None
                    entries[slide].predictions[f"{found['task']}/{found['model']}"] = {
                        "prediction": prediction,
                        "probability": probabilities.get(prediction),
                    }
                    if row.get("label"):
                        entries[slide].label = row["label"]
        for found in self.matches(paths.SPLITS):
            for slide, row in _read_table(self.path(paths.fill(paths.SPLITS, **found)), ",").items():
                if slide in entries and row.get("label"):
                    entries[slide].label = row["label"]

    # the layers of one slide
    def layers(self, entry: SlideEntry) -> list[Layer]:
        """Every layer the slide can have in this results folder, present or not (Layer.present)."""
        slide = entry.slide_id
        row = entry.manifest
        layers = [
            Layer(TISSUE, "tissue mask", TISSUE, self.path(row.get("mask") or paths.fill(paths.MASK, slide=slide))),
            Layer(GRID, "tile grid", GRID, self.path(row.get("tiles") or paths.fill(paths.TILES, slide=slide))),
        ]
        annotation = row.get("annotation") or next(
            (paths.fill(paths.ANNOTATION, **f) for f in self.matches(paths.ANNOTATION, slide=slide)), None
        )
        if annotation:
            layers.append(Layer("annotation", "annotation mask", LABELS, self.path(annotation)))
        if row.get("truth"):
            layers.append(Layer("truth", "truth mask (demo)", LABELS, self.path(row["truth"])))
        for task, model, file in self._mil_files(entry):
            source = model if entry.cohort != paths.NEW_COHORT else paths.new_source(model)
            layers += self._score_layers(f"{task}/{source}", file, slide, ("score", "attention"), _fold_note(file))
        if entry.cohort != paths.NEW_COHORT:
            for found in self._pu_tasks():
                file = self.path(paths.fill(paths.PU_TILE_SCORES, **found))
                layers += self._score_layers(f"{found['task']}/{paths.PU_SOURCE}", file, slide, RAW_SCORES)
        for classifier in sorted({f["classifier"] for f in self.matches(paths.CLASSIFIER_MODEL)}):
            file = self.path(paths.fill(paths.TILE_CLASSES, classifier=classifier, slide=slide))
            layers.append(Layer(f"classes/{classifier}", f"tile classes ({classifier})", CLASSES, file))
        return layers

    def _score_layers(
        self, source: str, file: Path, slide: str, expected: tuple[str, ...], note: str = ""
    ) -> list[Layer]:
        names = list(expected)
        if file.exists():
            with h5py.File(file, "r") as h5:
                if slide in h5:
                    names = [k for k in h5[slide] if k != COORDS]
        return [Layer(f"{source}/{name}", f"{source} {name}{note}", SCORES, file, name, slide) for name in names]

    def _pu_tasks(self) -> list[dict]:
        tasks = {f["task"] for f in self.matches(paths.PU_TILE_SCORES)}
        tasks |= {f["task"] for f in self.matches(paths.PU_SLIDE_SCORES)}
        return [{"task": t} for t in sorted(tasks)]

    def _mil_files(self, entry: SlideEntry) -> list[tuple[str, str, Path]]:
        """(task, model, tile-score file) of each MIL model: the fold that tested the slide (training cohort), the
        fold ensemble's file (new slides)."""
        models = {(f["task"], f["model"]) for f in self.matches(paths.METRICS)}
        models |= {(f["task"], f["model"]) for f in self.matches(paths.FOLD_TILE_SCORES)}
        if entry.cohort == paths.NEW_COHORT:
            models |= {(f["task"], f["model"]) for f in self.matches(paths.NEW_TILE_SCORES)}
            return [(t, m, self.path(paths.fill(paths.NEW_TILE_SCORES, task=t, model=m))) for t, m in sorted(models)]
        files = []
        for task, model in sorted(models):
            fold = self._test_fold(task, model, entry.slide_id)
            if fold is not None:
                files.append(
                    (task, model, self.path(paths.fill(paths.FOLD_TILE_SCORES, task=task, model=model, fold=fold)))
                )
        return files

    def _test_fold(self, task: str, model: str, slide: str) -> int | None:
        """The fold whose test set holds the slide: from the splits table, else from the fold files present."""
        splits = _read_table(self.path(paths.fill(paths.SPLITS, task=task)), ",")
        if slide in splits:
            return next((int(k[4:]) for k, v in splits[slide].items() if k.startswith("fold") and v == "test"), None)
        for found in self.matches(paths.FOLD_TILE_SCORES, task=task, model=model):
            with h5py.File(self.path(paths.fill(paths.FOLD_TILE_SCORES, **found)), "r") as h5:
                if slide in h5:
                    return int(found["fold"])
        return None


def qc_status(entry: SlideEntry) -> dict:
    """The slide's QC status (status, stage, reason, tile count), from the QC table, else the manifest."""
    row = entry.qc or entry.manifest
    if not row:
        return {STATUS: None}
    return {STATUS: row.get(STATUS) or OK, STAGE: row.get(STAGE), REASON: row.get(REASON), N_TILES: row.get(N_TILES)}


def _fold_note(file: Path) -> str:
    """Which model made a MIL layer's scores: the fold that tested the slide, or the folds' ensemble."""
    fold = file.parent.name
    return f" ({fold})" if fold.startswith("fold") else " (fold ensemble)"


def _is_prob(column: str) -> bool:
    return column.startswith(PROBABILITY_PREFIX)


def _read_table(path: Path, delimiter: str) -> dict[str, dict]:
    """slide_id -> row of a CSV / TSV table; empty when the file is absent."""
    if not path.exists():
        return {}
    with open(path, newline="") as handle:
        return {row["slide_id"]: row for row in csv.DictReader(handle, delimiter=delimiter)}

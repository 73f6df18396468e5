"""The rules' input, params and resource functions, from the checked config and the cohort.

Rules name them as `IN.<function>` (common.smk builds IN); each takes Snakemake's wildcards (resource functions
also the job's input), or is a factory returning such a function. Here rather than in .smk files so that they are
linted and unit-tested; light, like all of workflow/ (no openslide, OpenCV, torch or pandas).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict
from pathlib import Path

from slidesnake.core.errors import ConfigError
from slidesnake.core.labels import CLASSIFICATION
from slidesnake.core.sites import SPLIT_BY_SITE, check_sites, require_sites
from slidesnake.features.params import FeatureParams
from slidesnake.io.exclusion import SOURCE
from slidesnake.io.manifest import read_manifest
from slidesnake.mil.names import REGION_MODELS, SITE_CORRECTION
from slidesnake.stain.methods import NONE as NO_STAIN
from slidesnake.workflow import paths
from slidesnake.workflow.cohort import Cohort, pu_enabled, spread
from slidesnake.workflow.config import all_models, review_choice, task_models, train_encoder
from slidesnake.workflow.params import section_params
from slidesnake.workflow.sheet import source_kind
from slidesnake.workflow.tasks import task_spec, task_type

COHORT_REFERENCE = "cohort"  # stain.reference: fitted to the cohort's own slides
DEMO_PATCHES = "demo"  # classifier.patches: the demo's patch set
SHARD_INPUTS = {"tiles": paths.TILES, "regions": paths.REGIONS}  # what a shard job reads besides the slide


def expand(template: str, **values) -> list[str]:
    """The template filled with every combination of the values (lists, or one string)."""
    names = list(values)
    lists = [[v] if isinstance(v, str) else list(v) for v in values.values()]
    return [
        paths.fill_some(template, **dict(zip(names, combination, strict=True)))
        for combination in itertools.product(*lists)
    ]


def nested_paths(item) -> list[str]:
    """Every path inside a nested structure of dicts, lists and tuples (None and empty entries skipped)."""
    if isinstance(item, dict):
        return [p for value in item.values() for p in nested_paths(value)]
    if isinstance(item, (list, tuple)):
        return [p for value in item for p in nested_paths(value)]
    return [item] if item else []


class RuleInputs:
    def __init__(self, config: dict, cohort: Cohort):
        self.config, self.cohort = config, cohort
        self.tasks = config["tasks"]
        self.encoders = list(config["features"]["encoders"])
        self.train_encoder = train_encoder(config)
        self.models = all_models(config)  # of every task (each task trains its own list: task_models)
        self.folds = config["training"]["folds"]
        self.shards = cohort.shards(config["features"]["slides_per_job"])
        self.shard_of = {slide: shard for shard, slides in self.shards.items() for slide in slides}
        self.train_slides = cohort.slides(paths.TRAIN_COHORT)
        self.new_slides = cohort.slides(paths.NEW_COHORT)
        self.cohorts = [paths.TRAIN_COHORT] + ([paths.NEW_COHORT] if self.new_slides else [])
        self.stain_methods = sorted({e["stain"] for e in config["features"]["encoders"].values()} - {NO_STAIN})
        self.new_sources = [paths.new_source(m) for m in self.models]  # a model's fold ensemble on new slides

    # ---- per slide ---------------------------------------------------------------------------------

    def slide_file(self, slide: str) -> str:
        """The workflow's copy (or link) of a slide; its extension tells OpenSlide the format."""
        return paths.fill(paths.SLIDE, slide=slide, ext=self.cohort.record(slide).ext)

    def annotation_file(self, slide: str) -> str | None:
        """The workflow's copy of a slide's annotation mask, or None."""
        extension = self.cohort.record(slide).annotation_ext
        return None if extension is None else paths.fill(paths.ANNOTATION, slide=slide, aext=extension)

    def truth_file(self, slide: str) -> str | None:
        """The demo's truth mask of a slide (real cohorts have none)."""
        return paths.fill(paths.DEMO_TRUTH, slide=slide) if slide in self.cohort.demo_plans else None

    def pu_runs(self, task: str | None = None) -> bool:
        return pu_enabled(self.config, self.cohort, task)

    def local_source(self, column: str):
        """Input function: a sheet's local source file (so that changing it reruns), nothing for URLs."""

        def local_file(wildcards):
            record = self.cohort.record(wildcards.slide)
            kind, location = (
                (record.source_kind, record.source)
                if column == "source"
                else (record.annotation_kind, record.annotation)
            )
            return [location] if kind == "path" else []

        return local_file

    def fetch_minutes(self, column: str, download_minutes: int):
        """Resource function: the runtime limit of fetching a source, long for a download, short for a link."""

        def minutes(wildcards):
            record = self.cohort.record(wildcards.slide)
            kind = record.source_kind if column == "source" else record.annotation_kind
            return download_minutes if kind == "url" else 5

        return minutes

    def sheet_value(self, field: str):
        """Params function: one field of the slide's checked sheet row."""
        return lambda wildcards: getattr(self.cohort.record(wildcards.slide), field)

    def slide_input(self, wildcards) -> str:
        return self.slide_file(wildcards.slide)

    def annotation_input(self, wildcards) -> list[str]:
        annotation = self.annotation_file(wildcards.slide)
        return [annotation] if annotation else []

    def imported_tiles(self, wildcards) -> list[str]:
        """The slide's CLAM or TRIDENT patch file when tiling.import_coordinates names a folder (so that changing
        it reruns the tiling), else nothing."""
        imported = self.config["tiling"]["import_coordinates"]
        if imported is None:
            return []
        return [paths.fill(paths.PEER_PATCHES[imported["format"]], folder=imported["folder"], slide=wildcards.slide)]

    def import_format(self, wildcards) -> str:
        """Params function: the tool whose patch files the tiling imports (clam, trident), or empty."""
        imported = self.config["tiling"]["import_coordinates"]
        return "" if imported is None else imported["format"]

    def sheet_mpp(self, wildcards) -> float | None:
        return self.cohort.record(wildcards.slide).mpp

    def demo_plan(self, wildcards) -> dict:
        return asdict(self.cohort.demo_plans[wildcards.slide])

    # ---- shards: one GPU job per shard of slides, then one local job per slide puts its file in place ---

    def shard_files(self, reads: str, writes: str, template: str, **fixed):
        """Params function: per slide of the wildcards' shard, its slide, the user's file (`source`) and `reads`
        (tiles or regions) files and, as `writes`, where its output goes (`template` filled with the wildcards,
        `fixed` and the slide)."""

        def files(wildcards):
            filled = {**dict(wildcards.items()), **fixed}
            return {
                s: {
                    "slide": self.slide_file(s),
                    SOURCE: self.cohort.record(s).source,
                    reads: paths.fill(SHARD_INPUTS[reads], slide=s),
                    writes: paths.fill(template, **{**filled, "slide": s}),
                }
                for s in self.shards[wildcards.shard]
            }

        return files

    def shard_inputs(self, reads: str):
        """Input function: the slide and `reads` (tiles or regions) files of every slide of the shard."""
        return lambda wildcards: [
            f
            for s in self.shards[wildcards.shard]
            for f in (self.slide_file(s), paths.fill(SHARD_INPUTS[reads], slide=s))
        ]

    def shard_of_slide(self, template: str, **fixed):
        """Input function: the shard table (`template`) of the shard that holds the wildcards' slide."""
        return lambda wildcards: paths.fill(
            template, **{**dict(wildcards.items()), **fixed}, shard=self.shard_of[wildcards.slide]
        )

    # ---- features, stain, the tile classifier ------------------------------------------------------

    def encoder_stain_reference(self, wildcards) -> list[str]:
        """The stain reference an encoder normalises to (none for an encoder without stain normalisation)."""
        method = self.config["features"]["encoders"][wildcards.encoder]["stain"]
        return [] if method == NO_STAIN else [paths.fill(paths.STAIN_REFERENCE, method=method)]

    def feature_params(self, wildcards) -> dict:
        """Model and weights (or the import) of one configured encoder, with the shared extraction settings."""
        encoder = self.config["features"]["encoders"][wildcards.encoder]
        return section_params(
            FeatureParams,
            self.config["features"],
            model=encoder.get("model", wildcards.encoder),
            weights=encoder.get("weights"),
            stain=encoder["stain"],
            stain_fit=encoder["stain_fit"],
            import_features=encoder["import_features"],
        )

    def imported_features(self, wildcards) -> dict[str, str]:
        """Params function: slide -> its CLAM or TRIDENT feature file, for every slide of the shard of an
        encoder whose features are imported (features.encoders.<name>.import_features); else nothing."""
        imported = self.config["features"]["encoders"][wildcards.encoder]["import_features"]
        if imported is None:
            return {}
        template = paths.PEER_FEATURES[imported["format"]]
        return {
            s: paths.fill(template, folder=imported["folder"], encoder=imported["encoder"], slide=s)
            for s in self.shards[wildcards.shard]
        }

    def imported_feature_inputs(self, wildcards) -> list[str]:
        """Input function: the imported feature files of the shard (so that changing one reruns its import)."""
        return list(self.imported_features(wildcards).values())

    def feature_gpus(self, wildcards) -> int:
        """Resource function: a GPU for an encoder that encodes, none for one whose features are imported."""
        return 0 if self.config["features"]["encoders"][wildcards.encoder]["import_features"] else 1

    def stain_slide_files(self, count: int) -> dict[str, dict]:
        """Slide -> {slide, tiles} of `count` training slides spread over the sample sheet."""
        return {
            s: {"slide": self.slide_file(s), "tiles": paths.fill(paths.TILES, slide=s)}
            for s in spread(self.train_slides, count)
        }

    def stain_reference_slides(self, wildcards) -> dict[str, dict]:
        """Slide -> {slide, tiles} of the cohort reference (none for a reference image)."""
        stain = self.config["stain"]
        return self.stain_slide_files(stain["reference_slides"]) if stain["reference"] == COHORT_REFERENCE else {}

    def stain_reference_image(self, wildcards) -> list[str] | str:
        reference = self.config["stain"]["reference"]
        return [] if reference == COHORT_REFERENCE else reference

    def stain_qc_slides(self, wildcards) -> dict[str, dict]:
        return self.stain_slide_files(self.config["stain"]["qc_slides"])

    def patch_source_kind(self, wildcards) -> str:
        return source_kind(self.config["classifier"]["patches"])

    def patch_set_folder(self, wildcards) -> str:
        """The labelled patch set: the demo's, the user's own folder, or a fetched and unpacked archive."""
        source = self.config["classifier"]["patches"]
        if source == DEMO_PATCHES:
            return paths.DEMO_PATCHES
        if "://" not in source and Path(source).is_dir():
            return source
        return paths.fill(paths.PATCH_SET, classifier=wildcards.classifier)

    def tile_class_files(self, wildcards) -> dict[str, str]:
        """Every slide's tile-class file (training and new slides)."""
        return {
            s: paths.fill(paths.TILE_CLASSES, classifier=wildcards.classifier, slide=s) for s in self.cohort.slides()
        }

    # ---- cohorts -------------------------------------------------------------------------------------

    def slide_manifest_rows(self, wildcards) -> list[dict]:
        """Every file of every slide of a cohort, one row per slide (slidesnake.io.manifest)."""
        return [
            {
                "slide_id": slide,
                "patient_id": self.cohort.record(slide).patient_id,
                "slide": self.slide_file(slide),
                "mask": paths.fill(paths.MASK, slide=slide),
                "mask_info": paths.fill(paths.MASK_INFO, slide=slide),
                "thumbnail": paths.fill(paths.THUMBNAIL, slide=slide),
                "tiles": paths.fill(paths.TILES, slide=slide),
                "annotation": self.annotation_file(slide),
                "truth": self.truth_file(slide),
            }
            for slide in self.cohort.slides(wildcards.cohort)
        ]

    def slide_manifest_files(self, wildcards) -> list[str]:
        return [
            path
            for row in self.slide_manifest_rows(wildcards)
            for key, path in row.items()
            if key not in ("slide_id", "patient_id") and path
        ]

    def cohort_features(self, wildcards) -> dict[str, str]:
        """Every slide's features file of one encoder (region features for the region encoder)."""
        template = paths.REGION_FEATURES if wildcards.encoder == paths.REGION_ENCODER else paths.FEATURES
        return {
            s: paths.fill(template, encoder=wildcards.encoder, slide=s) for s in self.cohort.slides(wildcards.cohort)
        }

    def cohort_tiles(self, wildcards) -> dict[str, str]:
        """Every slide's tiles file (regions file for the region encoder)."""
        template = paths.REGIONS if wildcards.encoder == paths.REGION_ENCODER else paths.TILES
        return {s: paths.fill(template, slide=s) for s in self.cohort.slides(wildcards.cohort)}

    def cohort_sources(self, wildcards) -> dict[str, str]:
        """Params function: slide -> the sample sheet's source (the user's file or URL) of a cohort's slides."""
        return {s: self.cohort.record(s).source for s in self.cohort.slides(wildcards.cohort)}

    def qc_feature_manifest(self, wildcards) -> list[str]:
        """The feature manifest whose exclusions the QC table reports: the training encoder's (none without)."""
        return [self.feature_manifest(wildcards.cohort)] if self.train_encoder else []

    def qc_table(self, cohort: str) -> str:
        return paths.fill(paths.QC_TABLE, cohort=cohort)

    def slide_manifest(self, cohort: str) -> str:
        return paths.fill(paths.SLIDE_MANIFEST, cohort=cohort)

    def feature_manifest(self, cohort: str, encoder: str | None = None) -> str:
        return paths.fill(paths.FEATURE_MANIFEST, cohort=cohort, encoder=encoder or self.train_encoder)

    def mil_manifest(self, cohort: str):
        """Input function: the feature manifest a MIL model trains or predicts on (region models: regions)."""
        return lambda wildcards: self.feature_manifest(
            cohort, paths.REGION_ENCODER if wildcards.model in REGION_MODELS else None
        )

    def export_tiles(self, wildcards) -> dict[str, str]:
        """Every slide's tiles file (training and new slides)."""
        return {s: paths.fill(paths.TILES, slide=s) for s in self.cohort.slides()}

    def export_features(self, wildcards) -> dict[str, dict[str, str]]:
        """Every encoder's features file of every slide: encoder -> slide -> path."""
        return {
            e: {s: paths.fill(paths.FEATURES, encoder=e, slide=s) for s in self.cohort.slides()} for e in self.encoders
        }

    def export_files(self, wildcards) -> dict:
        return {"tiles": self.export_tiles(wildcards), "features": self.export_features(wildcards)}

    # ---- tasks -----------------------------------------------------------------------------------------

    def task_classes(self, wildcards) -> list[str]:
        """A classification task's classes (none for survival and regression tasks)."""
        return self.tasks[wildcards.task]["classes"] if self.is_classification(wildcards.task) else []

    def task_spec(self, wildcards) -> dict:
        """Params function: the entries of the wildcards' task that its jobs use (workflow.tasks.task_spec)."""
        return task_spec(self.tasks[wildcards.task])

    def task_type(self, wildcards) -> str:
        """Params function: classification, survival or regression."""
        return task_type(self.tasks[wildcards.task])

    def is_classification(self, task: str) -> bool:
        return task_type(self.tasks[task]) == CLASSIFICATION

    def task_models(self, task: str) -> list[str]:
        return task_models(self.config, task)

    def patients(self, cohort: str):
        """Params function: slide -> patient of a cohort's slides."""
        return lambda wildcards: {s: self.cohort.record(s).patient_id for s in self.cohort.slides(cohort)}

    def cohort_sites(self, cohort: str):
        """Params function: slide -> site (None where the sheet has none) of a cohort's slides; with
        training.batch_correction site or a training.site_adversary, every slide must have one (a SiteError naming
        the sheet and the row)."""

        def sites(wildcards) -> dict[str, str | None]:
            records = {s: self.cohort.record(s) for s in self.cohort.slides(cohort)}
            found = {s: r.site for s, r in records.items()}
            training = self.config["training"]
            needed_by = [
                key
                for key, on in (
                    ("training.batch_correction: site", training["batch_correction"] == SITE_CORRECTION),
                    ("training.site_adversary", training["site_adversary"] > 0),
                )
                if on
            ]
            if needed_by:
                rows = {s: r.row for s, r in records.items()}
                require_sites(found, " and ".join(needed_by), self.cohort.sheet, rows)
            return found

        return sites

    def sites(self, cohort: str, task: str, labels: dict) -> dict[str, str | None]:
        """slide -> site (None where the sheet has none) of a cohort's slides; with training.split_by site, checked
        now against the task's `labels` (evaluation.splits.check_sites: errors name the sheet, the site, the row)."""
        records = {s: self.cohort.record(s) for s in self.cohort.slides(cohort)}
        sites = self.cohort_sites(cohort)(None)
        if self.config["training"]["split_by"] == SPLIT_BY_SITE:
            check_sites(
                sites,
                {s: r.patient_id for s, r in records.items()},
                self.folds,
                labels if self.is_classification(task) else None,
                self.cohort.sheet,
                {s: r.row for s, r in records.items()},
            )
        return sites

    def fold_outputs(self, template: str):
        """Input function: one file per fold of the wildcards' task and model."""
        return lambda wildcards: paths.fold_files(template, wildcards.task, wildcards.model, self.folds)

    def per_model_fold_files(self, template: str, task: str) -> dict[str, list[str]]:
        return {m: paths.fold_files(template, task, m, self.folds) for m in self.task_models(task)}

    def pu_files(self, task: str) -> dict[str, str] | None:
        if not self.is_classification(task) or not self.pu_runs(task):
            return None
        return {
            "slide_scores": paths.fill(paths.PU_SLIDE_SCORES, task=task),
            "tile_scores": paths.fill(paths.PU_TILE_SCORES, task=task),
            "prior": paths.fill(paths.PU_PRIOR, task=task),
        }

    def evaluation_files(self, wildcards) -> dict:
        """What the evaluation of a task reads: fold predictions and tile scores per model, PU outputs."""
        return {
            "predictions": self.per_model_fold_files(paths.FOLD_PREDICTIONS, wildcards.task),
            "tile_scores": self.per_model_fold_files(paths.FOLD_TILE_SCORES, wildcards.task),
            "pu": self.pu_files(wildcards.task),
            "features": None if self.is_classification(wildcards.task) else self.feature_manifest(paths.TRAIN_COHORT),
        }

    def cohort_figure_files(self, wildcards) -> dict:
        return {
            "predictions": self.per_model_fold_files(paths.FOLD_PREDICTIONS, wildcards.task),
            "metrics": self.per_model_fold_files(paths.METRICS, wildcards.task),
        }

    @staticmethod
    def flat_files(function):
        """Input function: every path inside the (nested) structure `function` returns."""
        return lambda wildcards: nested_paths(function(wildcards))

    # ---- figures -------------------------------------------------------------------------------------

    def on_new_slides(self, wildcards) -> bool:
        return wildcards.source in self.new_sources

    def heatmap_score_files(self, wildcards) -> list[str]:
        """The tile scores a heatmap source paints: PU's, a model's folds', or its ensemble's on new slides."""
        if wildcards.source == paths.PU_SOURCE:
            return [paths.fill(paths.PU_TILE_SCORES, task=wildcards.task)]
        if self.on_new_slides(wildcards):
            model = wildcards.source.removeprefix(paths.NEW_SOURCE_PREFIX)
            return [paths.fill(paths.NEW_TILE_SCORES, task=wildcards.task, model=model)]
        return paths.fold_files(paths.FOLD_TILE_SCORES, wildcards.task, wildcards.source, self.folds)

    def heatmap_manifest(self, wildcards) -> str:
        return self.slide_manifest(paths.NEW_COHORT if self.on_new_slides(wildcards) else paths.TRAIN_COHORT)

    def heatmap_qc_table(self, wildcards) -> str:
        return self.qc_table(paths.NEW_COHORT if self.on_new_slides(wildcards) else paths.TRAIN_COHORT)

    def heatmap_splits(self, wildcards) -> list[str] | str:
        """The splits table gives the training slides' labels for the titles (new slides have none)."""
        return [] if self.on_new_slides(wildcards) else paths.fill(paths.SPLITS, task=wildcards.task)

    def heatmap_minutes(self, wildcards) -> int:
        return 10 + len(self.new_slides if self.on_new_slides(wildcards) else self.train_slides) // 10

    def heatmap_sources(self, task: str) -> list[str]:
        """A task's heatmap sources: the configured ones (PU only for its task, when it runs) and, with new
        slides, the fold ensembles of the configured models."""
        models = self.task_models(task)
        configured = [s for s in self.config["figures"]["heatmap_sources"] if s == paths.PU_SOURCE or s in models]
        sources = [s for s in configured if s != paths.PU_SOURCE or self.pu_runs(task)]
        if self.new_slides:
            sources += [paths.new_source(s) for s in configured if s in models]
        return sources

    def cohort_figures(self, task: str) -> tuple[str, ...]:
        """The cohort figures of a task: ROC, confusion, ... for a classification; Kaplan-Meier or the
        predicted-against-true scatter for a survival or regression task."""
        kind = task_type(self.tasks[task])
        return paths.COHORT_FIGURES if kind == CLASSIFICATION else paths.ENDPOINT_FIGURES[kind]

    def umap_pu_scores(self, wildcards) -> list[str] | str:
        return paths.fill(paths.PU_TILE_SCORES, task=self.config["pu"]["task"]) if self.pu_runs() else []

    # ---- the QuPath review project ---------------------------------------------------------------------

    def review_files(self, wildcards) -> dict:
        """What the review project reads: the training cohort's manifest and QC table, the task's splits, PU's
        tile scores, prior and slide scores and the feature manifest (where PU runs for the task; `pu_run`: those
        three in that order), the chosen MIL model's fold tile scores and, with review.corrections, the corrected
        tile labels (the proposals skip the tiles they label); with new slides (`new`) their manifest, QC table and
        the model's fold-ensemble tile scores."""
        task, model = review_choice(self.config)
        return {
            "manifest": self.slide_manifest(paths.TRAIN_COHORT),
            "qc": self.qc_table(paths.TRAIN_COHORT),
            "splits": paths.fill(paths.SPLITS, task=task),
            "pu": [paths.fill(paths.PU_TILE_SCORES, task=task)] if self.pu_runs(task) else [],
            "pu_run": (
                [
                    paths.fill(paths.PU_PRIOR, task=task),
                    paths.fill(paths.PU_SLIDE_SCORES, task=task),
                    self.feature_manifest(paths.TRAIN_COHORT),
                ]
                if self.pu_runs(task)
                else []
            ),
            "mil": paths.fold_files(paths.FOLD_TILE_SCORES, task, model, self.folds),
            "corrected": list(self.corrected_labels(wildcards).values()),
            "new": (
                [
                    self.slide_manifest(paths.NEW_COHORT),
                    self.qc_table(paths.NEW_COHORT),
                    paths.fill(paths.NEW_TILE_SCORES, task=task, model=model),
                ]
                if self.new_slides
                else []
            ),
        }

    def review_input(self, name: str):
        """Input function: one entry of review_files."""
        return lambda wildcards: self.review_files(wildcards)[name]

    def review_model(self, wildcards) -> str:
        """Params function: the MIL model whose evidence the review shows."""
        return review_choice(self.config)[1]

    def corrections_input(self, wildcards) -> list[str]:
        """Input function: the slide's corrections GeoJSON in review.corrections, when there is one."""
        folder = self.config["review"]["corrections"]
        if folder is None:
            return []
        path = paths.fill(paths.CORRECTIONS_FILE, folder=folder, slide=wildcards.slide)
        return [path] if Path(path).is_file() else []

    def corrected_labels(self, wildcards) -> dict[str, str]:
        """Params function: training slide -> its corrected tile labels, with review.corrections set (else none:
        PU and MIL train on the tiles files' annotation fractions)."""
        if self.config["review"]["corrections"] is None:
            return {}
        return {s: paths.fill(paths.CORRECTED_LABELS, slide=s) for s in self.train_slides}

    def mil_corrected_labels(self, wildcards) -> dict[str, str]:
        """Params function: the corrected tile labels a MIL model trains its evidence on: with
        training.instance_weight > 0 (else MIL reads no annotation) and for tile models (not HIPT's regions)."""
        if self.config["training"]["instance_weight"] <= 0 or wildcards.model in REGION_MODELS:
            return {}
        return self.corrected_labels(wildcards)

    def review_minutes(self, wildcards) -> int:
        return 10 + len(self.train_slides) // 20

    # ---- resource estimates from input sizes, so that schedulers get honest requests -----------------

    @staticmethod
    def mask_memory_mb(wildcards, input) -> int:
        """The mask stage holds the 8 um/px image: about 600 MB for a 1.5 GB, 100k x 100k px slide."""
        return int(1000 + 0.5 * input.size_mb)

    @staticmethod
    def feature_minutes(wildcards, input) -> int:
        """Inputs are the shard's slides and tile files; allow 1 min per 20 MB of slide at worst (CPU) plus 10."""
        return int(10 + input.size_mb / 20)

    @staticmethod
    def manifest_feature_mb(manifest: str) -> float:
        """Total size of the feature files a manifest lists; 0 while it does not exist yet (Snakemake evaluates
        resources again just before the job runs, when it does)."""
        if not Path(manifest).exists():
            return 0
        return sum(Path(row["features"]).stat().st_size for row in read_manifest(manifest).values()) / 1e6

    def training_memory_mb(self, wildcards, input) -> int:
        """Bags are kept in memory once read."""
        return int(2000 + 1.5 * self.manifest_feature_mb(input.manifest))

    def training_minutes(self, wildcards, input) -> int:
        return int(20 + self.manifest_feature_mb(input.manifest) / 10)

    # ---- what each target rule stands for --------------------------------------------------------------

    def training_tasks(self) -> list[str]:
        """The tasks, once it is checked that there is an encoder to train on."""
        if self.tasks and self.train_encoder is None:
            raise ConfigError(
                "features.encoders",
                "training, predictions and figures need an encoder (or set tasks: {} to stop after features)",
            )
        return list(self.tasks)

    def stages(self) -> dict:
        """Target rule -> the function listing its files (for every slide, task and model)."""
        return {
            "download": self.download_targets,
            "masks": lambda: expand(paths.MASK_GEOJSON, slide=self.cohort.slides()),
            "tiles": lambda: expand(paths.TILES, slide=self.cohort.slides()),
            "features": self.features_targets,
            "regions": self.regions_targets,
            "region_features": self.region_features_targets,
            "export": lambda: expand(paths.EXPORT_DIR, tool=paths.EXPORT_TOOLS),
            "classify": self.classify_targets,
            "train": self.train_targets,
            "predict": self.predict_targets,
            "figures": self.figures_targets,
            "review": lambda: [paths.REVIEW_DIR],
        }

    def stage_input(self, stage: str):
        """Input function of a target rule: its stage's files (evaluated only when the target is asked for)."""
        return lambda wildcards: self.stages()[stage]()

    def all_targets(self, wildcards) -> list[str]:
        stages = self.stages()
        return [t for stage in ALL_STAGES for t in stages[stage]()] + [paths.VERSIONS]

    def download_targets(self) -> list[str]:
        every = self.cohort.slides()
        demo = [paths.DEMO_SHEET] if self.cohort.is_demo else []
        return demo + [self.slide_file(s) for s in every] + [a for a in map(self.annotation_file, every) if a]

    def features_targets(self) -> list[str]:
        return (
            expand(paths.FEATURES, encoder=self.encoders, slide=self.cohort.slides())
            + expand(paths.STAIN_QC, method=self.stain_methods)
            + expand(paths.QC_TABLE, cohort=self.cohorts)
        )

    def regions_targets(self) -> list[str]:
        return expand(paths.REGIONS, slide=self.cohort.slides()) if self.config["regions"]["enabled"] else []

    def region_features_targets(self) -> list[str]:
        if not self.config["regions"]["enabled"]:
            return []
        return expand(paths.REGION_FEATURES, encoder=paths.REGION_ENCODER, slide=self.cohort.slides())

    def classify_targets(self) -> list[str]:
        if not self.config["classifier"]["enabled"]:
            return []
        name = self.config["classifier"]["name"]
        return [paths.fill(paths.COMPOSITION, classifier=name), paths.fill(paths.TILE_CLASS_FIGURES, classifier=name)]

    def train_targets(self) -> list[str]:
        tasks = self.training_tasks()
        return (
            [m for t in tasks for m in expand(paths.MODEL, task=t, model=self.task_models(t), fold=range(self.folds))]
            + expand(paths.EVALUATION_MD, task=tasks)
            + [paths.fill(paths.PU_SLIDE_SCORES, task=t) for t in tasks if self.pu_runs(t)]
        )

    def predict_targets(self) -> list[str]:
        tasks = self.training_tasks()
        targets = []
        for task in tasks:
            templates = [paths.OOF_PATIENTS] + ([paths.NEW_PATIENTS] if self.new_slides else [])
            targets += [f for t in templates for f in expand(t, task=task, model=self.task_models(task))]
        return targets

    def figures_targets(self) -> list[str]:
        tasks = self.training_tasks()
        targets = []
        for task in tasks:
            targets += expand(paths.COHORT_FIGURE, task=task, name=self.cohort_figures(task))
            targets += expand(paths.HEATMAP_DIR, task=task, source=self.heatmap_sources(task))
        if self.train_encoder:
            targets.append(paths.fill(paths.UMAP_SCATTER, encoder=self.train_encoder))
        return targets


ALL_STAGES = ("download", "tiles", "features", "region_features", "train", "predict", "figures", "classify")

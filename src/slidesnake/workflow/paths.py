"""Every file the workflow writes, as a Snakemake path template, in one place.

Rules use the templates as outputs; input functions fill them with `fill`; jobs receive the filled
paths (or a cohort manifest that lists them) and never build a path themselves.
"""

from __future__ import annotations

RESULTS = "results"
RESOURCES = "resources"

# demo cohort (generated inputs)
DEMO_DIR = f"{RESOURCES}/demo"
DEMO_SLIDE = f"{DEMO_DIR}/{{slide}}.tiff"
DEMO_TRUTH = f"{DEMO_DIR}/{{slide}}_truth.png"
DEMO_ANNOTATION = f"{DEMO_DIR}/{{slide}}_annotation.png"
DEMO_STATS = f"{DEMO_DIR}/{{slide}}.json"
DEMO_OVERVIEW = f"{DEMO_DIR}/{{slide}}_truth_overview.jpg"
DEMO_SHEET = f"{DEMO_DIR}/samples.tsv"
DEMO_TRUTH_TABLE = f"{DEMO_DIR}/truth.tsv"

# per slide
SLIDE = f"{RESULTS}/slides/{{slide}}.{{ext}}"
ANNOTATION = f"{RESULTS}/annotations/{{slide}}.{{aext}}"
MASK = f"{RESULTS}/masks/{{slide}}.png"
MASK_INFO = f"{RESULTS}/masks/{{slide}}.json"
MASK_GEOJSON = f"{RESULTS}/masks/{{slide}}.geojson"
THUMBNAIL = f"{RESULTS}/masks/{{slide}}_thumbnail.jpg"
MASK_QC = f"{RESULTS}/masks/{{slide}}_qc.jpg"
TILES = f"{RESULTS}/tiles/{{slide}}.h5"
TILES_QC = f"{RESULTS}/tiles/{{slide}}_qc.jpg"
ARTEFACT_QC = f"{RESULTS}/tiles/{{slide}}_artefacts.jpg"  # artefact tiles outlined per kind over the thumbnail
ARTEFACT_GEOJSON = f"{RESULTS}/tiles/{{slide}}_artefacts.geojson"  # the artefact tiles as QuPath annotations
FEATURES = f"{RESULTS}/features/{{encoder}}/{{slide}}.h5"
FEATURE_SHARD = f"{RESULTS}/features/{{encoder}}/shards/{{shard}}.tsv"  # slides encoded by one job
FEATURE_SHARD_FILE = f"{RESULTS}/features/{{encoder}}/shards/{{shard}}/{{slide}}.h5"
STAIN_REFERENCE = f"{RESULTS}/stain/{{method}}/reference.json"  # what encoders with this stain method normalise to
STAIN_QC = f"{RESULTS}/figures/stain/{{method}}.jpg"

# cohorts: "train" (the sample sheet) and "new" (the deploy sheet)
TRAIN_COHORT, NEW_COHORT = "train", "new"
SLIDE_MANIFEST = f"{RESULTS}/cohort/{{cohort}}/slides.tsv"
FEATURE_MANIFEST = f"{RESULTS}/cohort/{{cohort}}/features_{{encoder}}.tsv"
QC_TABLE = f"{RESULTS}/qc/{{cohort}}.tsv"  # every slide's status (ok / excluded with stage and reason) and QC values

# training and evaluation, per task
SPLITS = f"{RESULTS}/splits/{{task}}.csv"
FOLD_DIR = f"{RESULTS}/models/{{task}}/{{model}}/fold{{fold}}"
MODEL = f"{FOLD_DIR}/model.pt"
METRICS = f"{FOLD_DIR}/metrics.json"
FOLD_PREDICTIONS = f"{FOLD_DIR}/predictions.csv"
FOLD_TILE_SCORES = f"{FOLD_DIR}/tile_scores.h5"
PU_TILE_SCORES = f"{RESULTS}/pu/{{task}}/tile_scores.h5"
PU_SLIDE_SCORES = f"{RESULTS}/pu/{{task}}/slide_scores.csv"
PU_PRIOR = f"{RESULTS}/pu/{{task}}/prior.json"
EVALUATION_JSON = f"{RESULTS}/evaluation/{{task}}.json"
EVALUATION_MD = f"{RESULTS}/evaluation/{{task}}.md"

# predictions
OOF_SLIDE_PREDICTIONS = f"{RESULTS}/predictions/{{task}}/{{model}}_oof.csv"
OOF_PATIENTS = f"{RESULTS}/predictions/{{task}}/{{model}}_oof_patients.csv"
NEW_SLIDE_PREDICTIONS = f"{RESULTS}/predictions/{{task}}/{{model}}_new.csv"
NEW_PATIENTS = f"{RESULTS}/predictions/{{task}}/{{model}}_new_patients.csv"
NEW_TILE_SCORES = f"{RESULTS}/predictions/{{task}}/{{model}}_new_tile_scores.h5"

# figures
HEATMAP_DIR = f"{RESULTS}/figures/{{task}}/heatmaps/{{source}}"  # one folder per score source, files per slide
HEATMAP_FILES = {"heatmap": "{slide}.jpg", "regions": "{slide}.geojson", "gallery": "{slide}_top_tiles.jpg"}
PU_SOURCE = "pu"  # heatmap source of the PU tile classifier (the others are MIL model names) ...
NEW_SOURCE_PREFIX = "new_"  # ... and new_<model>: the model's fold ensemble on the new slides
PU_MASK_FILES = {"mask": "{slide}_tumor_mask.png", "mask_regions": "{slide}_tumor_mask.geojson"}  # PU source only
COHORT_FIGURE = f"{RESULTS}/figures/{{task}}/{{name}}.png"
COHORT_FIGURES = ("roc", "confusion", "reliability", "training_curves", "tiles_per_slide", "tissue_area")
ENDPOINT_FIGURES = {"survival": ("kaplan_meier",), "regression": ("scatter",)}  # per task type (workflow.tasks)
UMAP_SCATTER = f"{RESULTS}/figures/umap/{{encoder}}/scatter.png"
UMAP_RGB_DIR = f"{RESULTS}/figures/umap/{{encoder}}/rgb"
UMAP_RGB_FILE = "{slide}.jpg"

# the supervised tile classifier
DEMO_PATCHES = f"{DEMO_DIR}/patches"
PATCH_SET = f"{RESULTS}/patches/{{classifier}}/set"
CLASSIFIER_MODEL = f"{RESULTS}/classifier/{{classifier}}/model.pt"
CLASSIFIER_METRICS = f"{RESULTS}/classifier/{{classifier}}/metrics.json"
TILE_CLASS_SHARD = f"{RESULTS}/tile_classes/{{classifier}}/shards/{{shard}}.tsv"
TILE_CLASS_SHARD_FILE = f"{RESULTS}/tile_classes/{{classifier}}/shards/{{shard}}/{{slide}}.h5"
TILE_CLASSES = f"{RESULTS}/tile_classes/{{classifier}}/{{slide}}.h5"
COMPOSITION = f"{RESULTS}/tile_classes/{{classifier}}/composition.csv"
CLASSIFIER_LOCALISATION = f"{RESULTS}/tile_classes/{{classifier}}/localisation.json"
TILE_CLASS_FIGURES = f"{RESULTS}/figures/tile_classes/{{classifier}}"
TILE_CLASS_MAP_FILES = {"map": "{slide}.jpg", "regions": "{slide}.geojson"}
TILE_CLASS_GALLERY = "gallery.jpg"
TILE_CLASS_REPORT = "classifier.png"

# HIPT's hierarchy: regions, region features (ViT-256 then ViT-4K)
REGION_ENCODER = "hipt"  # the encoder name of region features (in manifests and MIL training)
REGIONS = f"{RESULTS}/regions/{{slide}}.h5"
REGION_FEATURES = f"{RESULTS}/region_features/{{encoder}}/{{slide}}.h5"
REGION_FEATURE_SHARD = f"{RESULTS}/region_features/{{encoder}}/shards/{{shard}}.tsv"
REGION_FEATURE_SHARD_FILE = f"{RESULTS}/region_features/{{encoder}}/shards/{{shard}}/{{slide}}.h5"

# exports in the layouts of neighbouring tools
EXPORT_DIR = f"{RESULTS}/export/{{tool}}"
EXPORT_TOOLS = ("clam", "trident")
CLAM, TRIDENT = EXPORT_TOOLS
# each tool's patch (coordinates) file inside its folder: CLAM's save dir, TRIDENT's {mag}x_{px}px_{overlap}px_overlap;
# the exports write them, tiling.import_coordinates reads them
PEER_PATCHES = {CLAM: "{folder}/patches/{slide}.h5", TRIDENT: "{folder}/patches/{slide}_patches.h5"}
# each tool's feature files, read by features.encoders.<name>.import_features (folder: CLAM's feature dir, TRIDENT's
# {mag}x_{px}px_{overlap}px_overlap; encoder: the tool's name of the patch encoder)
PEER_FEATURES = {CLAM: "{folder}/h5_files/{slide}.h5", TRIDENT: "{folder}/features_{encoder}/{slide}.h5"}

# the QuPath review project (slidesnake.io.qupath names the files inside it)
REVIEW_DIR = f"{RESULTS}/review"
CORRECTIONS_FILE = "{folder}/{slide}.geojson"  # the user's QuPath export of a slide, in review.corrections
CORRECTED_MASK = f"{RESULTS}/corrections/{{slide}}.png"  # the annotation with the corrections merged in ...
CORRECTED_LABELS = f"{RESULTS}/corrections/{{slide}}.h5"  # ... and its tile labels (slidesnake.io.corrected_labels)

VERSIONS = f"{RESULTS}/versions.tsv"


def fill(template: str, **wildcards) -> str:
    """A template with its wildcards filled in."""
    return template.format(**wildcards)


class _KeepMissing(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def fill_some(template: str, **wildcards) -> str:
    """A template with some wildcards filled in and the others kept (for Snakemake rule outputs)."""
    return template.format_map(_KeepMissing(wildcards))


def log(rule: str, name: str = "") -> str:
    """Log file of a rule's job, e.g. log("tile_slide", "{slide}")."""
    return f"{RESULTS}/logs/{rule}/{name}.log" if name else f"{RESULTS}/logs/{rule}.log"


def benchmark(rule: str, name: str = "") -> str:
    return f"{RESULTS}/benchmarks/{rule}/{name}.tsv" if name else f"{RESULTS}/benchmarks/{rule}.tsv"


def in_folder(folder, name: str, **wildcards):
    """A per-slide file inside a folder output (heatmaps, UMAP views)."""
    from pathlib import Path

    return Path(folder) / name.format(**wildcards)


def new_source(model: str) -> str:
    """The heatmap source of a model's fold ensemble on the new slides."""
    return f"{NEW_SOURCE_PREFIX}{model}"


def fold_files(template: str, task: str, model: str, folds: int) -> list[str]:
    """One file per cross-validation fold."""
    return [template.format(task=task, model=model, fold=k) for k in range(folds)]

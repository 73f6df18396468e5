# The checked config, the cohort, wildcard constraints and the input functions the rules share.
import re
from dataclasses import asdict

from slidesnake.core.errors import SlidesnakeError
from slidesnake.core.logs import job_logging
from slidesnake.jobs import collect_features, collect_region_features, collect_tile_classes
from slidesnake.mil.names import REGION_MODELS
from slidesnake.stain.methods import NONE as NO_STAIN
from slidesnake.io.manifest import read_manifest
from slidesnake.workflow import paths
from slidesnake.workflow.cohort import load_cohort
from slidesnake.workflow.config import check_config, train_encoder
from slidesnake.workflow.params import section_params
from slidesnake.classifier.params import ClassifierParams
from slidesnake.features.params import FeatureParams, RegionFeatureParams
from slidesnake.figures.params import HeatmapParams
from slidesnake.io.params import DownloadParams
from slidesnake.mil.params import TrainParams
from slidesnake.pu.params import PUParams
from slidesnake.stain.params import StainParams
from slidesnake.tissue.params import MaskParams, RegionParams, TilingParams
from slidesnake.workflow.sheet import ANNOTATION_EXTENSIONS, SLIDE_EXTENSIONS

try:
    check_config(config)
    COHORT = load_cohort(config)
except SlidesnakeError as error:
    raise WorkflowError(str(error)) from None

TASKS = config["tasks"]
ENCODERS = list(config["features"]["encoders"])
TRAIN_ENCODER = train_encoder(config)
MODELS = config["training"]["models"]
FOLDS = config["training"]["folds"]
SHARDS = COHORT.shards(config["features"]["slides_per_job"])
SHARD_OF = {slide: shard for shard, slides in SHARDS.items() for slide in slides}
TRAIN_SLIDES = COHORT.slides(paths.TRAIN_COHORT)
NEW_SLIDES = COHORT.slides(paths.NEW_COHORT)
COHORTS = [paths.TRAIN_COHORT] + ([paths.NEW_COHORT] if NEW_SLIDES else [])
STAIN_METHODS = sorted({e["stain"] for e in config["features"]["encoders"].values()} - {NO_STAIN})


def alternatives(names):
    """A wildcard constraint matching exactly these names."""
    return "|".join(map(re.escape, names)) or "NONE_CONFIGURED"


wildcard_constraints:
    slide=r"[A-Za-z0-9._-]+",
    ext=alternatives(SLIDE_EXTENSIONS),
    aext=alternatives(ANNOTATION_EXTENSIONS),
    encoder=alternatives(ENCODERS + ([paths.REGION_ENCODER] if config["regions"]["enabled"] else [])),
    cohort=alternatives(COHORTS),
    task=alternatives(TASKS),
    model=alternatives(MODELS),
    fold=r"\d+",
    classifier=alternatives([config["classifier"]["name"]]),
    shard=r"shard\d+",
    method=alternatives(STAIN_METHODS),


def collect_slide(job, shard_table, slide, out, log_file):
    """A local collect rule's job (in the Snakemake process: no interpreter start per slide), logged."""
    with job_logging(log_file):
        job(Path(shard_table), slide, Path(out))


# ---- per slide -------------------------------------------------------------------------------------


def slide_file(slide):
    """The workflow's copy (or link) of a slide; its extension tells OpenSlide the format."""
    return paths.fill(paths.SLIDE, slide=slide, ext=COHORT.record(slide).ext)


def annotation_file(slide):
    """The workflow's copy of a slide's annotation mask, or None."""
    extension = COHORT.record(slide).annotation_ext
    return None if extension is None else paths.fill(paths.ANNOTATION, slide=slide, aext=extension)


def truth_file(slide):
    """The demo's truth mask of a slide (real cohorts have none)."""
    return paths.fill(paths.DEMO_TRUTH, slide=slide) if slide in COHORT.demo_plans else None


def local_source(column):
    """Input function: a sheet's local source file (so that changing it reruns), nothing for URLs."""

    def local_file(wildcards):
        record = COHORT.record(wildcards.slide)
        kind, location = (
            (record.source_kind, record.source)
            if column == "source"
            else (record.annotation_kind, record.annotation)
        )
        return [location] if kind == "path" else []

    return local_file


def fetch_minutes(column, download_minutes):
    """Resource function: the runtime limit of fetching a source, long for a download, short for a link."""

    def minutes(wildcards):
        record = COHORT.record(wildcards.slide)
        kind = record.source_kind if column == "source" else record.annotation_kind
        return download_minutes if kind == "url" else 5

    return minutes


def sheet_value(field):
    """Params function: one field of the slide's checked sheet row."""

    def value(wildcards):
        return getattr(COHORT.record(wildcards.slide), field)

    return value


def slide_input(wildcards):
    return slide_file(wildcards.slide)


def annotation_input(wildcards):
    annotation = annotation_file(wildcards.slide)
    return [annotation] if annotation else []


def sheet_mpp(wildcards):
    return COHORT.record(wildcards.slide).mpp


def demo_plan(wildcards):
    return asdict(COHORT.demo_plans[wildcards.slide])


def shard_files(wildcards):
    """Per slide of a feature shard: its slide and tiles files and where its features are written."""
    return {
        s: {
            "slide": slide_file(s),
            "tiles": paths.fill(paths.TILES, slide=s),
            "features": paths.fill(
                paths.FEATURE_SHARD_FILE, encoder=wildcards.encoder, shard=wildcards.shard, slide=s
            ),
        }
        for s in SHARDS[wildcards.shard]
    }


def shard_inputs(wildcards):
    """The slide and tiles files of every slide of a shard."""
    return [f for s in SHARDS[wildcards.shard] for f in (slide_file(s), paths.fill(paths.TILES, slide=s))]


def region_shard_files(wildcards):
    """Per slide of a shard: its slide and regions files and where its region features are written."""
    return {
        s: {
            "slide": slide_file(s),
            "regions": paths.fill(paths.REGIONS, slide=s),
            "features": paths.fill(
                paths.REGION_FEATURE_SHARD_FILE, encoder=paths.REGION_ENCODER, shard=wildcards.shard, slide=s
            ),
        }
        for s in SHARDS[wildcards.shard]
    }


def region_shard_inputs(wildcards):
    return [f for s in SHARDS[wildcards.shard] for f in (slide_file(s), paths.fill(paths.REGIONS, slide=s))]


def region_shard_of_slide(wildcards):
    return paths.fill(
        paths.REGION_FEATURE_SHARD, encoder=paths.REGION_ENCODER, shard=SHARD_OF[wildcards.slide]
    )


def shard_of_slide(wildcards):
    return paths.fill(paths.FEATURE_SHARD, encoder=wildcards.encoder, shard=SHARD_OF[wildcards.slide])


def patch_source_kind(wildcards):
    source = config["classifier"]["patches"]
    return "url" if "://" in source and not source.startswith("file://") else "path"


def patch_set_folder(wildcards):
    """The labelled patch set: the demo's, the user's own folder, or a fetched and unpacked archive."""
    source = config["classifier"]["patches"]
    if source == "demo":
        return paths.DEMO_PATCHES
    if "://" not in source and Path(source).is_dir():
        return source
    return paths.fill(paths.PATCH_SET, classifier=wildcards.classifier)


def classify_shard_files(wildcards):
    """Per slide of a shard: its slide and tiles files and where its tile classes are written."""
    return {
        s: {
            "slide": slide_file(s),
            "tiles": paths.fill(paths.TILES, slide=s),
            "classes": paths.fill(
                paths.TILE_CLASS_SHARD_FILE, classifier=wildcards.classifier, shard=wildcards.shard, slide=s
            ),
        }
        for s in SHARDS[wildcards.shard]
    }


def classify_shard_of_slide(wildcards):
    return paths.fill(
        paths.TILE_CLASS_SHARD, classifier=wildcards.classifier, shard=SHARD_OF[wildcards.slide]
    )


def tile_class_files(wildcards):
    """Every slide's tile-class file (training and new slides)."""
    return {
        s: paths.fill(paths.TILE_CLASSES, classifier=wildcards.classifier, slide=s) for s in COHORT.slides()
    }


def encoder_stain_reference(wildcards):
    """The stain reference an encoder normalises to (none for an encoder without stain normalisation)."""
    method = config["features"]["encoders"][wildcards.encoder]["stain"]
    return [] if method == NO_STAIN else [paths.fill(paths.STAIN_REFERENCE, method=method)]


def spread_slides(count):
    """`count` training slides spread evenly over the sample sheet (stain reference and QC)."""
    slides = TRAIN_SLIDES
    if len(slides) <= count:
        return list(slides)
    return (
        [slides[round(k * (len(slides) - 1) / (count - 1))] for k in range(count)]
        if count > 1
        else [slides[0]]
    )


def stain_slide_files(count):
    return {
        s: {"slide": slide_file(s), "tiles": paths.fill(paths.TILES, slide=s)} for s in spread_slides(count)
    }


def stain_reference_slides(wildcards):
    """Slide -> {slide, tiles} of the cohort reference (none for a reference image)."""
    stain = config["stain"]
    return stain_slide_files(stain["reference_slides"]) if stain["reference"] == "cohort" else {}


def stain_reference_image(wildcards):
    reference = config["stain"]["reference"]
    return [] if reference == "cohort" else reference


def stain_qc_slides(wildcards):
    return stain_slide_files(config["stain"]["qc_slides"])


def feature_params(wildcards):
    """Model and weights of one configured encoder, with the shared extraction settings."""
    encoder = config["features"]["encoders"][wildcards.encoder]
    return section_params(
        FeatureParams,
        config["features"],
        model=encoder.get("model", wildcards.encoder),
        weights=encoder["weights"],
        stain=encoder["stain"],
    )


# ---- cohorts ---------------------------------------------------------------------------------------


def slide_manifest_rows(wildcards):
    """Every file of every slide of a cohort, one row per slide (slidesnake.io.manifest)."""
    rows = []
    for slide in COHORT.slides(wildcards.cohort):
        rows.append(
            {
                "slide_id": slide,
                "patient_id": COHORT.record(slide).patient_id,
                "slide": slide_file(slide),
                "mask": paths.fill(paths.MASK, slide=slide),
                "mask_info": paths.fill(paths.MASK_INFO, slide=slide),
                "thumbnail": paths.fill(paths.THUMBNAIL, slide=slide),
                "tiles": paths.fill(paths.TILES, slide=slide),
                "annotation": annotation_file(slide),
                "truth": truth_file(slide),
            }
        )
    return rows


def slide_manifest_files(wildcards):
    return [
        path
        for row in slide_manifest_rows(wildcards)
        for key, path in row.items()
        if key not in ("slide_id", "patient_id") and path
    ]


def cohort_features(wildcards):
    """Every slide's features file of one encoder (region features for the region encoder)."""
    template = paths.REGION_FEATURES if wildcards.encoder == paths.REGION_ENCODER else paths.FEATURES
    return {
        s: paths.fill(template, encoder=wildcards.encoder, slide=s) for s in COHORT.slides(wildcards.cohort)
    }


def cohort_tiles(wildcards):
    """Every slide's tiles file (regions file for the region encoder)."""
    template = paths.REGIONS if wildcards.encoder == paths.REGION_ENCODER else paths.TILES
    return {s: paths.fill(template, slide=s) for s in COHORT.slides(wildcards.cohort)}


def mil_manifest(cohort):
    """Input function: the feature manifest a MIL model trains or predicts on (region models: regions)."""

    def manifest(wildcards):
        return feature_manifest(cohort, paths.REGION_ENCODER if wildcards.model in REGION_MODELS else None)

    return manifest


def slide_manifest(cohort):
    return paths.fill(paths.SLIDE_MANIFEST, cohort=cohort)


def feature_manifest(cohort, encoder=None):
    return paths.fill(paths.FEATURE_MANIFEST, cohort=cohort, encoder=encoder or TRAIN_ENCODER)


# ---- tasks -----------------------------------------------------------------------------------------


def task_labels(task):
    """Labels of the training slides for a task, checked here: only targets that train need them."""
    try:
        return COHORT.labels(TASKS[task])
    except SlidesnakeError as error:
        raise WorkflowError(str(error)) from None


def task_classes(wildcards):
    return TASKS[wildcards.task]["classes"]


def labels_param(wildcards):
    return task_labels(wildcards.task)


def patients_param(cohort):
    def patients(wildcards):
        return {s: COHORT.record(s).patient_id for s in COHORT.slides(cohort)}

    return patients


def pu_enabled(task=None):
    """PU learning runs for its task when every training slide of its positive class has an annotation."""
    pu = config["pu"]
    if not pu["enabled"] or pu["task"] not in TASKS or (task is not None and task != pu["task"]):
        return False
    column = TASKS[pu["task"]]["label_column"]
    positives = [r for r in COHORT.train.values() if r.value(column) == pu["positive_class"]]
    return bool(positives) and all(r.annotation for r in positives)


def fold_outputs(template):
    """Input function: one file per fold of the wildcards' task and model."""

    def files(wildcards):
        return paths.fold_files(template, wildcards.task, wildcards.model, FOLDS)

    return files


def per_model_fold_files(template, task):
    return {m: paths.fold_files(template, task, m, FOLDS) for m in MODELS}


def pu_files(task):
    if not pu_enabled(task):
        return None
    return {
        "slide_scores": paths.fill(paths.PU_SLIDE_SCORES, task=task),
        "tile_scores": paths.fill(paths.PU_TILE_SCORES, task=task),
        "prior": paths.fill(paths.PU_PRIOR, task=task),
    }


def evaluation_files(wildcards):
    """What the evaluation of a task reads: fold predictions and tile scores per model, PU outputs."""
    return {
        "predictions": per_model_fold_files(paths.FOLD_PREDICTIONS, wildcards.task),
        "tile_scores": per_model_fold_files(paths.FOLD_TILE_SCORES, wildcards.task),
        "pu": pu_files(wildcards.task),
    }


def cohort_figure_files(wildcards):
    return {
        "predictions": per_model_fold_files(paths.FOLD_PREDICTIONS, wildcards.task),
        "metrics": per_model_fold_files(paths.METRICS, wildcards.task),
    }


def flat_files(function):
    """Input function: every path inside the (nested) structure `function` returns, plus fixed ones."""

    def files(wildcards):
        found = []
        stack = [function(wildcards)]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, (list, tuple)):
                stack.extend(item)
            elif item:
                found.append(item)
        return found

    return files


def heatmap_sources(task):
    """Configured heatmap sources of a task (PU only for its task, when it runs)."""
    return [s for s in config["figures"]["heatmap_sources"] if s != paths.PU_SOURCE or pu_enabled(task)]


def heatmap_score_files(wildcards):
    if wildcards.source == paths.PU_SOURCE:
        return [paths.fill(paths.PU_TILE_SCORES, task=wildcards.task)]
    return paths.fold_files(paths.FOLD_TILE_SCORES, wildcards.task, wildcards.source, FOLDS)


def deploy_heatmap_models():
    """MIL models among the heatmap sources: their fold ensemble is painted on the new slides."""
    return [s for s in config["figures"]["heatmap_sources"] if s in MODELS]


def first_task_labels(wildcards):
    return task_labels(next(iter(TASKS))) if TASKS else {}


def umap_pu_scores(wildcards):
    return paths.fill(paths.PU_TILE_SCORES, task=config["pu"]["task"]) if pu_enabled() else []


def export_tiles(wildcards):
    """Every slide's tiles file (training and new slides)."""
    return {s: paths.fill(paths.TILES, slide=s) for s in COHORT.slides()}


def export_features(wildcards):
    """Every encoder's features file of every slide: encoder -> slide -> path."""
    return {e: {s: paths.fill(paths.FEATURES, encoder=e, slide=s) for s in COHORT.slides()} for e in ENCODERS}


def export_files(wildcards):
    return {"tiles": export_tiles(wildcards), "features": export_features(wildcards)}


# ---- targets ---------------------------------------------------------------------------------------


def stage_targets(stage):
    """The files that make up one stage, for every slide, task and model."""
    every = COHORT.slides()
    tasks = list(TASKS)
    if stage == "download":
        demo = [paths.DEMO_SHEET] if COHORT.is_demo else []
        return demo + [slide_file(s) for s in every] + [a for a in map(annotation_file, every) if a]
    if stage == "masks":
        return expand(paths.MASK_GEOJSON, slide=every)
    if stage == "tiles":
        return expand(paths.TILES, slide=every)
    if stage == "features":
        return expand(paths.FEATURES, encoder=ENCODERS, slide=every) + expand(
            paths.STAIN_QC, method=STAIN_METHODS
        )
    if stage == "regions":
        return expand(paths.REGIONS, slide=every) if config["regions"]["enabled"] else []
    if stage == "region_features":
        if not config["regions"]["enabled"]:
            return []
        return expand(paths.REGION_FEATURES, encoder=paths.REGION_ENCODER, slide=every)
    if stage == "export":
        return expand(paths.EXPORT_DIR, tool=paths.EXPORT_TOOLS)
    if stage == "classify":
        if not config["classifier"]["enabled"]:
            return []
        name = config["classifier"]["name"]
        return [
            paths.fill(paths.COMPOSITION, classifier=name),
            paths.fill(paths.TILE_CLASS_FIGURES, classifier=name),
        ]
    if tasks and TRAIN_ENCODER is None:
        raise WorkflowError(
            "config key 'features.encoders': training, predictions and figures need an encoder "
            "(or set tasks: {} to stop after features)"
        )
    if stage == "train":
        targets = expand(paths.MODEL, task=tasks, model=MODELS, fold=range(FOLDS))
        targets += expand(paths.EVALUATION_MD, task=tasks)
        return targets + [paths.fill(paths.PU_SLIDE_SCORES, task=t) for t in tasks if pu_enabled(t)]
    if stage == "predict":
        targets = expand(paths.OOF_PATIENTS, task=tasks, model=MODELS)
        return targets + (expand(paths.NEW_PATIENTS, task=tasks, model=MODELS) if NEW_SLIDES else [])
    if stage == "figures":
        targets = expand(paths.COHORT_FIGURE, task=tasks, name=paths.COHORT_FIGURES)
        for task in tasks:
            targets += expand(paths.HEATMAP_DIR, task=task, source=heatmap_sources(task))
        if TRAIN_ENCODER:
            targets.append(paths.fill(paths.UMAP_SCATTER, encoder=TRAIN_ENCODER))
        if NEW_SLIDES:
            targets += expand(paths.NEW_HEATMAP_DIR, task=tasks, model=deploy_heatmap_models())
        return targets
    raise ValueError(stage)


def stage_input(stage):
    """Input function of a target rule: its stage's files (evaluated only when the target is asked for)."""

    def targets(wildcards):
        return stage_targets(stage)

    return targets


def all_targets(wildcards):
    stages = ("download", "tiles", "features", "region_features", "train", "predict", "figures", "classify")
    return [t for stage in stages for t in stage_targets(stage)] + [paths.VERSIONS]


# ---- resource estimates from input sizes, so that schedulers get honest requests ---------------------


def mask_memory_mb(wildcards, input):
    """The mask stage holds the 8 um/px image: about 600 MB for a 1.5 GB, 100k x 100k px slide."""
    return int(1000 + 0.5 * input.size_mb)


def feature_minutes(wildcards, input):
    """Inputs are the shard's slides and tile files; allow 1 min per 20 MB of slide at worst (CPU) plus 10."""
    return int(10 + input.size_mb / 20)


def manifest_feature_mb(manifest):
    """Total size of the feature files a manifest lists; 0 while it does not exist yet (Snakemake evaluates
    resources again just before the job runs, when it does)."""
    if not Path(manifest).exists():
        return 0
    return sum(Path(row["features"]).stat().st_size for row in read_manifest(manifest).values()) / 1e6


def training_memory_mb(wildcards, input):
    """Bags are kept in memory once read."""
    return int(2000 + 1.5 * manifest_feature_mb(input.manifest))


def training_minutes(wildcards, input):
    return int(20 + manifest_feature_mb(input.manifest) / 10)

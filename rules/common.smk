# Sample sheet, input functions and wildcard constraints shared by all rules.
import re

import pandas as pd

from slidesnake.cohort_sheet import (DEPLOY_PREFIX, DEPLOY_SEED_OFFSET, demo_plans, load_deploy_samples,
                                     load_samples, plan_as_params)
from slidesnake.errors import SlidesnakeError
from slidesnake.sheet import SLIDE_EXTENSIONS

try:
    SAMPLES = load_samples(config)
    DEPLOY_SAMPLES = load_deploy_samples(config)
except SlidesnakeError as error:
    raise WorkflowError(str(error)) from None

SLIDES = list(SAMPLES.index)  # the training cohort
DEPLOY_SLIDES = [] if DEPLOY_SAMPLES is None else list(DEPLOY_SAMPLES.index)  # new slides to predict
_shared = set(SLIDES) & set(DEPLOY_SLIDES)
if _shared:
    raise WorkflowError(f"slide_id(s) in both the sample sheet and the deploy sheet: {sorted(_shared)}")
ALL_SAMPLES = SAMPLES if DEPLOY_SAMPLES is None else pd.concat([SAMPLES, DEPLOY_SAMPLES]).astype(object)
ALL_SAMPLES = ALL_SAMPLES.where(ALL_SAMPLES.notna(), None)  # columns only one sheet has: None, not NaN
DEMO = config["samples"] == "demo"
DEMO_PLANS = demo_plans(config["demo"]) if DEMO else {}
if config["deploy"]["samples"] == "demo":
    DEMO_PLANS.update(demo_plans(config["demo"], config["deploy"]["demo_slides"], DEPLOY_SEED_OFFSET, DEPLOY_PREFIX))
ENCODERS = list(config["features"]["encoders"])
TASKS = config["tasks"]
TRAIN_ENCODER = config["training"]["encoder"] or (ENCODERS[0] if ENCODERS else None)
LOGS = "results/logs"
BENCHMARKS = "results/benchmarks"


wildcard_constraints:
    slide=r"[A-Za-z0-9._-]+",
    ext="|".join(SLIDE_EXTENSIONS),
    aext="png|tif|tiff",
    encoder="|".join(map(re.escape, ENCODERS)) or "NO_ENCODER",


def sample(slide):
    return ALL_SAMPLES.loc[slide]


def slide_file(slide):
    """The workflow's copy (or link) of a slide; its extension tells OpenSlide the format."""
    return f"results/slides/{slide}.{sample(slide)['ext']}"


def annotation_file(slide):
    """The workflow's copy of a slide's annotation mask, or None."""
    row = sample(slide)
    if row["annotation"] is None:
        return None
    return f"results/annotations/{slide}.{row['annotation'].rsplit('.', 1)[-1].lower()}"


def local_source(column):
    """Input function: a local source file (so changing it reruns), nothing for URLs."""

    def inputs(wildcards):
        row = sample(wildcards.slide)
        return [row[column]] if row[f"{column}_kind"] == "path" else []

    return inputs


def rules_targets(stage):
    """Files that make up one stage for every slide."""
    every = SLIDES + DEPLOY_SLIDES
    if stage == "download":
        demo = ["resources/demo/samples.tsv"] if DEMO else []
        return demo + [slide_file(s) for s in every] + [a for a in map(annotation_file, every) if a]
    if stage == "masks":
        return expand("results/masks/{slide}.geojson", slide=every)
    if stage == "tiles":
        return expand("results/tiles/{slide}.h5", slide=every)
    if stage == "features":
        return expand("results/features/{encoder}/{slide}.h5", encoder=ENCODERS, slide=every)
    if stage == "predict":
        targets = expand("results/predictions/{task}/{model}_oof_patients.csv", task=list(TASKS),
                         model=config["training"]["models"])
        if DEPLOY_SLIDES:
            targets += expand("results/predictions/{task}/{model}_new_patients.csv", task=list(TASKS),
                              model=config["training"]["models"])
        return targets
    if stage == "train":
        targets = expand("results/models/{task}/{model}/fold{fold}/model.pt", task=list(TASKS),
                         model=config["training"]["models"], fold=range(config["training"]["folds"]))
        targets += expand("results/evaluation/{task}.md", task=list(TASKS))
        if pu_enabled():
            targets.append(f"results/pu/{config['pu']['task']}/slide_scores.csv")
        return targets
    if stage == "figures":
        targets = []
        for task in TASKS:
            targets += expand("results/figures/{task}/{name}.png", task=task, name=COHORT_FIGURES)
            targets += expand("results/figures/{task}/heatmaps/{source}/{slide}.jpg", task=task,
                              source=heatmap_sources(task), slide=SLIDES)
        if TRAIN_ENCODER:
            targets.append(f"results/figures/umap/{TRAIN_ENCODER}/scatter.png")
        if DEPLOY_SLIDES:
            targets += expand("results/figures/{task}/heatmaps/new_{model}/{slide}.jpg", task=list(TASKS),
                              model=deploy_heatmap_models(), slide=DEPLOY_SLIDES)
        return targets
    raise ValueError(stage)


def slide_input(wildcards):
    return slide_file(wildcards.slide)


def annotation_input(wildcards):
    annotation = annotation_file(wildcards.slide)
    return [annotation] if annotation else []


def sheet_mpp(wildcards):
    mpp = sample(wildcards.slide)["mpp"]
    return None if mpp is None else float(mpp)


def encoder_params(wildcards):
    """Model and weights of one configured encoder, with the shared extraction settings."""
    encoder = config["features"]["encoders"][wildcards.encoder]
    shared = {k: v for k, v in config["features"].items() if k != "encoders"}
    return {**shared, "model": encoder.get("model", wildcards.encoder), "weights": encoder["weights"]}


def pu_enabled():
    """PU learning runs when enabled and every slide of its positive class has an annotation mask."""
    pu = config["pu"]
    if not pu["enabled"] or pu["task"] not in TASKS:
        return False
    column = TASKS[pu["task"]]["label_column"]
    positives = SAMPLES[SAMPLES[column] == pu["positive_class"]] if column in SAMPLES else SAMPLES.iloc[:0]
    return len(positives) > 0 and positives["annotation"].notna().all()


def task_labels(task):
    column = TASKS[task]["label_column"]
    return {s: SAMPLES.loc[s, column] for s in SLIDES}


def training_features(wildcards):
    return {s: f"results/features/{TRAIN_ENCODER}/{s}.h5" for s in SLIDES}


def training_tiles(wildcards):
    return {s: f"results/tiles/{s}.h5" for s in SLIDES}


def evaluation_inputs(wildcards):
    """Every fold's predictions and tile scores; PU outputs; demo truth masks when there are any."""
    folds, models = range(config["training"]["folds"]), config["training"]["models"]
    inputs = {"tiles": list(training_tiles(wildcards).values())}
    for model in models:
        inputs[f"predictions_{model}"] = [f"results/models/{wildcards.task}/{model}/fold{k}/predictions.csv" for k in folds]
        inputs[f"tile_scores_{model}"] = [f"results/models/{wildcards.task}/{model}/fold{k}/tile_scores.h5" for k in folds]
    if pu_enabled() and config["pu"]["task"] == wildcards.task:
        inputs["pu_slide_scores"] = f"results/pu/{wildcards.task}/slide_scores.csv"
        inputs["pu_tile_scores"] = f"results/pu/{wildcards.task}/tile_scores.h5"
        inputs["pu_prior"] = f"results/pu/{wildcards.task}/prior.json"
    if DEMO:
        inputs["truth"] = [f"resources/demo/{s}_truth.png" for s in SLIDES]
    return inputs


# Resource estimates from input sizes, so schedulers get honest requests.
def mask_memory_mb(slide_mb):
    """The mask stage holds the 8 um/px image: about 600 MB for a 1.5 GB, 100k x 100k px slide."""
    return int(1000 + 0.5 * slide_mb)


def feature_minutes(input_mb):
    """Inputs are the slide and its tile file; allow 1 min per 20 MB of slide at worst (CPU) plus 10."""
    return int(10 + input_mb / 20)


def training_memory_mb(features_mb):
    """Bags are kept in memory once read."""
    return int(2000 + 1.5 * features_mb)


def training_minutes(features_mb):
    return int(20 + features_mb / 10)


COHORT_FIGURES = ["roc", "confusion", "training_curves", "tiles_per_slide", "tissue_area"]


def heatmap_sources(task):
    """Configured heatmap sources that exist for a task (PU only for its task, when it runs)."""
    sources = []
    for source in config["figures"]["heatmap_sources"]:
        if source == "pu":
            if pu_enabled() and config["pu"]["task"] == task:
                sources.append(source)
        elif source in config["training"]["models"]:
            sources.append(source)
    return sources


def heatmap_score_files(wildcards):
    if wildcards.source == "pu":
        return [f"results/pu/{wildcards.task}/tile_scores.h5"]
    return [f"results/models/{wildcards.task}/{wildcards.source}/fold{k}/tile_scores.h5"
            for k in range(config["training"]["folds"])]


def per_slide_inputs(wildcards, slides=None):
    """Slide, tiles, mask (+ annotation and demo truth) of every slide, named by slide."""
    inputs = {}
    for s in SLIDES if slides is None else slides:
        inputs[f"slide_{s}"] = slide_file(s)
        inputs[f"tiles_{s}"] = f"results/tiles/{s}.h5"
        inputs[f"mask_{s}"] = f"results/masks/{s}.png"
        if annotation_file(s):
            inputs[f"annotation_{s}"] = annotation_file(s)
        if DEMO:
            inputs[f"truth_{s}"] = f"resources/demo/{s}_truth.png"
    return inputs


def deploy_features(wildcards):
    return {f"features_{s}": f"results/features/{TRAIN_ENCODER}/{s}.h5" for s in DEPLOY_SLIDES}


def deploy_heatmap_models():
    """MIL models among the heatmap sources: their fold ensemble is painted on the new slides."""
    return [s for s in config["figures"]["heatmap_sources"] if s in config["training"]["models"]]

# Shared by the rules' files - the checked config and cohort, the rules' input functions (IN, from
# slidesnake.workflow.inputs), wildcard constraints, the collect rules' in-process job, task labels.
import re
from pathlib import Path

from slidesnake.core.errors import SlidesnakeError
from slidesnake.core.logs import job_logging
from slidesnake.core.sites import SPLIT_BY_SITE
from slidesnake.io.params import DownloadParams
from slidesnake.workflow import paths
from slidesnake.workflow.cohort import load_cohort
from slidesnake.workflow.config import check_config
from slidesnake.workflow.inputs import RuleInputs
from slidesnake.workflow.params import section_params
from slidesnake.workflow.sheet import ANNOTATION_EXTENSIONS, SLIDE_EXTENSIONS
from slidesnake.core.labels import CLASSIFICATION
from slidesnake.workflow.tasks import task_type

try:
    check_config(config)
    COHORT = load_cohort(config)
except SlidesnakeError as error:
    raise WorkflowError(str(error)) from None

IN = RuleInputs(config, COHORT)
TASKS, ENCODERS, MODELS, FOLDS = IN.tasks, IN.encoders, IN.models, IN.folds
TRAIN_ENCODER, TRAIN_SLIDES, NEW_SLIDES, COHORTS = (
    IN.train_encoder,
    IN.train_slides,
    IN.new_slides,
    IN.cohorts,
)


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
    method=alternatives(IN.stain_methods),


def task_labels(task):
    """Labels of the training slides for a task, checked here: only targets that train need them."""
    try:
        return COHORT.labels(TASKS[task], task)
    except SlidesnakeError as error:
        raise WorkflowError(str(error)) from None


def labels_param(wildcards):
    return task_labels(wildcards.task)


def sites_param(wildcards):
    """slide -> site of the training slides, checked here with training.split_by site."""
    try:
        by_site = config["training"]["split_by"] == SPLIT_BY_SITE  # only then are the labels checked against sites
        return IN.sites(paths.TRAIN_COHORT, wildcards.task, task_labels(wildcards.task) if by_site else {})
    except SlidesnakeError as error:
        raise WorkflowError(str(error)) from None


def first_classification_labels():
    """The labels of the first classification task (the UMAP colours its slides by them), or none."""
    names = [t for t in TASKS if task_type(TASKS[t]) == CLASSIFICATION]
    return task_labels(names[0]) if names else {}

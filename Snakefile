# slidesnake: whole-slide images to slide-level predictions, heatmaps and figures.
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

# The workflow's package is imported from src/: here while the DAG is built, and in every job through
# PYTHONPATH (the project venv, --sdm conda envs and cluster nodes alike). This is its one import route.
SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)
from slidesnake.workflow import export_package_path

export_package_path(SRC)

# config/config.yaml is the demo's configuration; a --configfile of your own replaces it (defaults for every
# key come from the schema, src/slidesnake/workflow/schemas/config.schema.yaml).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"


rule all:
    default_target: True
    input:
        IN.all_targets,


rule download:
    input:
        IN.stage_input("download"),


rule masks:
    input:
        IN.stage_input("masks"),


rule tiles:
    input:
        IN.stage_input("tiles"),


rule features:
    input:
        IN.stage_input("features"),


rule regions:
    input:
        IN.stage_input("regions"),


rule region_features:
    input:
        IN.stage_input("region_features"),


rule export:
    input:
        IN.stage_input("export"),


rule classify:
    input:
        IN.stage_input("classify"),


rule train:
    input:
        IN.stage_input("train"),


rule predict:
    input:
        IN.stage_input("predict"),


rule figures:
    input:
        IN.stage_input("figures"),


rule review:
    input:
        IN.stage_input("review"),


include: "rules/demo.smk"
include: "rules/download.smk"
include: "rules/masks.smk"
include: "rules/tiles.smk"
include: "rules/features.smk"
include: "rules/stain.smk"
include: "rules/regions.smk"
include: "rules/export.smk"
include: "rules/classifier.smk"
include: "rules/cohort.smk"
include: "rules/train.smk"
include: "rules/predict.smk"
include: "rules/figures.smk"
include: "rules/review.smk"
include: "rules/versions.smk"

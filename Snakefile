# slidesnake: whole-slide images to slide-level predictions, heatmaps and figures.
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

# The package holds all logic; it is installed in the environment (make setup, envs/*.yaml).
# Parse-time imports also work from a plain checkout.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))


configfile: "config/config.yaml"


report: "report/workflow.rst"


validate(config, "config/schemas/config.schema.yaml", set_default=True)


include: "rules/common.smk"


rule all:
    default_target: True
    input:
        rules_targets("download"),
        rules_targets("tiles"),
        rules_targets("features"),
        rules_targets("train"),
        rules_targets("predict"),
        rules_targets("figures"),
        "results/versions.tsv",


rule download:
    input:
        rules_targets("download"),


rule masks:
    input:
        rules_targets("masks"),


rule tiles:
    input:
        rules_targets("tiles"),


rule features:
    input:
        rules_targets("features"),


rule train:
    input:
        rules_targets("train"),


rule predict:
    input:
        rules_targets("predict"),


rule figures:
    input:
        rules_targets("figures"),


include: "rules/demo.smk"
include: "rules/download.smk"
include: "rules/masks.smk"
include: "rules/tiles.smk"
include: "rules/features.smk"
include: "rules/train.smk"
include: "rules/predict.smk"
include: "rules/figures.smk"
include: "rules/versions.smk"

# slidesnake: whole-slide images to slide-level predictions, heatmaps and figures.
import os
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)


configfile: "config/config.yaml"


validate(config, "config/schemas/config.schema.yaml", set_default=True)


include: "rules/common.smk"


rule all:
    default_target: True
    input:
        rules_targets("tiles"),


rule download:
    input:
        rules_targets("download"),


rule masks:
    input:
        rules_targets("masks"),


rule tiles:
    input:
        rules_targets("tiles"),


include: "rules/demo.smk"
include: "rules/download.smk"
include: "rules/masks.smk"
include: "rules/tiles.smk"

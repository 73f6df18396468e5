"""The cohort the workflow runs on: a checked sample sheet, or the built-in demo cohort's plan."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd

from .demo.cohort import DemoSlidePlan, plan_cohort
from .sheet import as_sheet, read_sheet

DEMO_DIR = Path("resources/demo")


def demo_plans(demo_config: dict, n_slides: int | None = None, seed_offset: int = 0, prefix: str = "demo"
               ) -> dict[str, DemoSlidePlan]:
    """The demo cohort's plans; a second call with another prefix and seed plans new slides to deploy to."""
    plans = plan_cohort(
        n_slides=n_slides or demo_config["n_slides"], seed=demo_config["seed"] + seed_offset, prefix=prefix,
        width=demo_config["width"],
        height=demo_config["height"], mpp=demo_config["mpp"], tumor_fraction=tuple(demo_config["tumor_fraction"]),
        annotation_fraction=demo_config["annotation_fraction"], artefacts=demo_config["artefacts"],
        jpeg_quality=demo_config["jpeg_quality"])
    return {plan.slide_id: plan for plan in plans}


def demo_sheet(plans: dict[str, DemoSlidePlan], demo_dir: Path = DEMO_DIR, labelled: bool = True) -> pd.DataFrame:
    """The demo cohort as a checked sheet: its files are made by the demo rules, so none exist yet.
    Slides to deploy to come without labels, as new slides would."""
    rows = []
    for row, plan in enumerate(plans.values(), start=1):
        rows.append({
            "slide_id": plan.slide_id, "source": str(demo_dir / f"{plan.slide_id}.tiff"), "source_kind": "path",
            "ext": "tiff", "md5": None, "label": plan.label if labelled else None, "patient_id": plan.patient_id,
            "annotation": str(demo_dir / f"{plan.slide_id}_annotation.png"), "annotation_kind": "path",
            "mpp": None, "row": row,
        })
    return as_sheet(rows)


def label_columns(config: dict) -> dict[str, list[str]]:
    """Sheet columns that training tasks need, with their classes."""
    columns: dict[str, list[str]] = {}
    for task in config.get("tasks", {}).values():
        columns.setdefault(task["label_column"], [])
        columns[task["label_column"]] += [c for c in task["classes"] if c not in columns[task["label_column"]]]
    return columns


def load_samples(config: dict) -> pd.DataFrame:
    if config["samples"] == "demo":
        return demo_sheet(demo_plans(config["demo"]))
    return read_sheet(config["samples"], label_columns(config))


DEPLOY_SEED_OFFSET = 1000
DEPLOY_PREFIX = "new"


def load_deploy_samples(config: dict) -> pd.DataFrame | None:
    """New slides to deploy the trained models to (labels optional), or None."""
    source = config["deploy"]["samples"]
    if source is None:
        return None
    if source == "demo":
        return demo_sheet(demo_plans(config["demo"], config["deploy"]["demo_slides"], DEPLOY_SEED_OFFSET,
                                     DEPLOY_PREFIX), labelled=False)
    return read_sheet(source, {})


def plan_as_params(plan: DemoSlidePlan) -> dict:
    return asdict(plan)

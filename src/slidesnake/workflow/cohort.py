"""The slides the workflow runs on: the training cohort (the sample sheet, or the demo cohort's plan) and
the new slides the trained models predict. Slides are looked up by id in dictionaries."""

from __future__ import annotations

from dataclasses import dataclass, field

from slidesnake.core.errors import ConfigError
from slidesnake.core.labels import REGRESSION, SURVIVAL
from slidesnake.demo.plan import DemoSlidePlan, demo_outcomes, plan_cohort, site_name
from slidesnake.workflow import paths
from slidesnake.workflow.sheet import SlideRecord, check_labels, read_sheet
from slidesnake.workflow.tasks import regression_targets, survival_targets, task_type

DEMO = "demo"
DEMO_LABEL_COLUMN = "label"
NEW_SEED_OFFSET = 1000  # the demo's new slides: same settings, other seeds
NEW_PREFIX = "new"


def demo_plans(
    demo_config: dict, n_slides: int, seed_offset: int = 0, prefix: str = "demo"
) -> dict[str, DemoSlidePlan]:
    """Plans of `n_slides` demo slides by id; another prefix and seed offset plan the new slides."""
    return {plan.slide_id: plan for plan in plan_cohort(demo_config, n_slides, seed_offset, prefix)}


def demo_record(plan: DemoSlidePlan, row: int, labelled: bool, demo: dict | None = None) -> SlideRecord:
    """A demo slide as a sheet row: its files are written by the demo rules, so none exist yet.
    New slides come without labels, as new slides would. With `demo` (the config's section) and its `outcomes`,
    a labelled slide also has the demo's survival and score columns (demo.plan.demo_outcomes)."""
    outcomes = demo_outcomes(plan, demo) if labelled and demo and demo["outcomes"] else {}
    return SlideRecord(
        slide_id=plan.slide_id,
        source=paths.fill(paths.DEMO_SLIDE, slide=plan.slide_id),
        source_kind="path",
        ext="tiff",
        patient_id=plan.patient_id,
        row=row,
        annotation=paths.fill(paths.DEMO_ANNOTATION, slide=plan.slide_id),
        annotation_kind="path",
        site=site_name(plan.site),
        columns={DEMO_LABEL_COLUMN: plan.label if labelled else None, **outcomes},
    )


@dataclass
class Cohort:
    """Training slides and new slides, by id, in sheet order."""

    train: dict[str, SlideRecord]
    new: dict[str, SlideRecord] = field(default_factory=dict)
    demo_plans: dict[str, DemoSlidePlan] = field(default_factory=dict)
    sheet: str | None = None  # the user's sheet the training slides came from (None: demo)

    def __post_init__(self):
        shared = self.train.keys() & self.new.keys()
        if shared:
            raise ConfigError(
                "deploy.samples", f"slide_id(s) in both the sample sheet and the deploy sheet: {sorted(shared)}"
            )
        self.records = {**self.train, **self.new}

    @property
    def is_demo(self) -> bool:
        return bool(self.demo_plans)

    def slides(self, cohort: str | None = None) -> list[str]:
        """Slide ids of one cohort ("train" or "new"), or of both."""
        if cohort is None:
            return list(self.records)
        return list(self.train if cohort == paths.TRAIN_COHORT else self.new)

    def record(self, slide: str) -> SlideRecord:
        return self.records[slide]

    def shards(self, per_job: int) -> dict[str, list[str]]:
        """Slides in sheet order cut into shards of `per_job` (training slides first, then new ones)."""
        slides = self.slides()
        return {f"shard{k // per_job:05d}": slides[k : k + per_job] for k in range(0, len(slides), per_job)}

    def labels(self, task: dict, name: str = "") -> dict:
        """Checked targets of the training slides for a task: class names ({label_column, classes}), [time,
        event] (survival) or values (regression); see workflow.tasks."""
        kind = task_type(task)
        if kind == SURVIVAL:
            return survival_targets(self.train, name, task, self.sheet)
        if kind == REGRESSION:
            return regression_targets(self.train, name, task, self.sheet)
        return check_labels(self.train, task["label_column"], task["classes"], self.sheet)


def pu_enabled(config: dict, cohort: Cohort, task: str | None = None) -> bool:
    """Whether PU learning runs (for `task`, when given: only for pu.task): it is enabled, its task exists, and
    every training slide of its positive class has an annotation mask."""
    pu, tasks = config["pu"], config["tasks"]
    if not pu["enabled"] or pu["task"] not in tasks or (task is not None and task != pu["task"]):
        return False
    column = tasks[pu["task"]]["label_column"]
    positives = [r for r in cohort.train.values() if r.value(column) == pu["positive_class"]]
    return bool(positives) and all(r.annotation for r in positives)


def spread(slides: list[str], count: int) -> list[str]:
    """`count` of the slides spread evenly over the list, first and last included (all when there are fewer)."""
    if len(slides) <= count:
        return list(slides)
    return [slides[round(k * (len(slides) - 1) / (count - 1))] for k in range(count)] if count > 1 else [slides[0]]


def load_cohort(config: dict) -> Cohort:
    """The cohort of a checked config: sheet rows are checked now (errors name sheet, row and column);
    labels are checked only by the targets that train."""
    plans: dict[str, DemoSlidePlan] = {}
    if config["samples"] == DEMO:
        demo = config["demo"]
        plans = demo_plans(demo, demo["n_slides"])
        train = {s: demo_record(p, row, True, demo) for row, (s, p) in enumerate(plans.items(), start=1)}
        new_plans = demo_plans(demo, demo["new_slides"], NEW_SEED_OFFSET, NEW_PREFIX) if demo["new_slides"] else {}
        new = {s: demo_record(p, row, False) for row, (s, p) in enumerate(new_plans.items(), start=1)}
        plans.update(new_plans)
        sheet = None
    else:
        sheet = config["samples"]
        train = read_sheet(sheet)
        new = {}
    if config["deploy"]["samples"] is not None:
        if config["samples"] == DEMO:
            raise ConfigError(
                "deploy.samples",
                "the demo cohort brings its own new slides (demo.new_slides); "
                "set deploy.samples only with your own sample sheet",
            )
        new = read_sheet(config["deploy"]["samples"])
    return Cohort(train, new, plans, sheet)

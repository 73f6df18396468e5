"""Task types and their targets: a classification (a class column), a survival endpoint (a time and an event
column, censoring allowed) or a regression (a numeric column). Light: used while Snakemake builds the DAG.

A task's targets per slide: the class name (classification), [time, event] (survival: event 1 seen, 0 censored)
or the value (regression). Every bad value raises TaskTargetError naming the task, the sheet, the row and the
column."""

from __future__ import annotations

import math

from slidesnake.core.errors import TaskTargetError
from slidesnake.core.labels import CLASSIFICATION, REGRESSION, SURVIVAL

EVENT_TRUE, EVENT_FALSE = ("1", "true", "yes", "event", "dead"), ("0", "false", "no", "censored", "alive")
TASK_KEYS = {  # the keys of a task entry that change what its jobs do, per type
    CLASSIFICATION: ("type", "label_column", "classes"),
    SURVIVAL: ("type", "time_column", "event_column", "batch_slides"),
    REGRESSION: ("type", "value_column", "standardise", "loss", "batch_slides"),
}


def task_type(task: dict) -> str:
    return task.get("type", CLASSIFICATION)


def task_spec(task: dict) -> dict:
    """The entries of a task that its jobs use (a rule's params: a change of another type's key reruns nothing)."""
    return {key: task.get(key, CLASSIFICATION if key == "type" else None) for key in TASK_KEYS[task_type(task)]}


def task_columns(task: dict) -> list[str]:
    """The sheet columns a task reads."""
    kind = task_type(task)
    if kind == SURVIVAL:
        return [task["time_column"], task["event_column"]]
    return [task["value_column"] if kind == REGRESSION else task["label_column"]]


def column_values(records: dict, name: str, column: str, sheet: str | None) -> dict[str, str]:
    """slide -> the text of one column of every record; a missing column or an empty cell names it."""
    values = {}
    for slide, record in records.items():
        if column not in record.columns:
            raise TaskTargetError(name, f"the sheet has no column '{column}'", None, column, sheet)
        value = record.value(column)
        if value is None:
            raise TaskTargetError(
                name, f"slide '{slide}' has no value, and the task needs one", record.row, column, sheet
            )
        values[slide] = value
    return values


def number(name: str, value: str, record, column: str, sheet: str | None) -> float:
    try:
        parsed = float(value)
    except ValueError:
        parsed = math.nan
    if not math.isfinite(parsed):
        raise TaskTargetError(
            name, f"'{value}' of slide '{record.slide_id}' is not a number", record.row, column, sheet
        )
    return parsed


def survival_targets(records: dict, name: str, task: dict, sheet: str | None) -> dict[str, list]:
    """slide -> [time, event] of every record, checked: times numbers >= 0, events 1/0 (true/false, yes/no), and
    at least one event (a Cox model learns nothing from censored times alone)."""
    time_column, event_column = task["time_column"], task["event_column"]
    times, events = column_values(records, name, time_column, sheet), column_values(records, name, event_column, sheet)
    targets = {}
    for slide, record in records.items():
        time = number(name, times[slide], record, time_column, sheet)
        if time < 0:
            raise TaskTargetError(
                name, f"time {times[slide]} of slide '{slide}' is negative", record.row, time_column, sheet
            )
        event = events[slide].lower()
        if event not in EVENT_TRUE + EVENT_FALSE:
            raise TaskTargetError(
                name,
                f"event '{events[slide]}' of slide '{slide}' is neither an event ({', '.join(EVENT_TRUE)}) nor "
                f"censored ({', '.join(EVENT_FALSE)})",
                record.row,
                event_column,
                sheet,
            )
        targets[slide] = [time, int(event in EVENT_TRUE)]
    if targets and not any(event for _, event in targets.values()):
        raise TaskTargetError(
            name,
            "no slide has an event (every time is censored): a survival model cannot learn",
            None,
            event_column,
            sheet,
        )
    return targets


def regression_targets(records: dict, name: str, task: dict, sheet: str | None) -> dict[str, float]:
    """slide -> the numeric value of every record, checked."""
    column = task["value_column"]
    values = column_values(records, name, column, sheet)
    return {slide: number(name, values[slide], records[slide], column, sheet) for slide in records}

"""Rule demo_cohort: the demo cohort's sample sheet (as a user would write it) and its truth table."""

from __future__ import annotations

from pathlib import Path

from slidesnake.demo.cohort import write_cohort_tables


def run(
    stats: list[Path],
    slides: dict[str, Path],
    annotations: dict[str, Path],
    sheet: Path,
    truth: Path,
    columns: dict[str, dict[str, str]] | None = None,
) -> None:
    """Write the sheet (with `columns`: the demo's outcome columns per slide) and truth table of the demo slides
    whose stats JSON files are given."""
    write_cohort_tables(stats, slides, annotations, sheet, truth, columns)

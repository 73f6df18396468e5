"""Rule demo_slide: one synthetic demo slide with its truth and partial annotation masks."""

from __future__ import annotations

from pathlib import Path

from slidesnake.demo.cohort import write_demo_slide, write_truth_overview
from slidesnake.demo.plan import DemoSlidePlan


def run(
    plan: DemoSlidePlan, slide: Path, truth: Path, annotation: Path, stats: Path, overview: Path, workers: int = 1
) -> dict:
    """Render the slide (pyramidal JPEG TIFF), its masks and stats, and the truth overview picture."""
    result = write_demo_slide(plan, slide, truth, annotation, stats, workers=workers)
    write_truth_overview(slide, truth, annotation, overview)
    return result

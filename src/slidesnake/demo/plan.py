"""The demo cohort's plan: which slides, labels, patients and tumor shares (numpy only, cheap at DAG time)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DemoSlidePlan:
    slide_id: str
    label: str
    patient_id: str
    tumor_fraction: float
    seed: int
    width: int
    height: int
    mpp: float
    artefacts: bool
    annotation_fraction: float
    jpeg_quality: int
    tumor_atypia: float  # 1: tumor clearly atypical (the easy default); lower: closer to benign tissue
    site: int  # staining site (patients are spread over sites regardless of label)
    site_stain_shift: float  # how far each site's stain batch moves from the others


def site_name(site: int) -> str:
    """A demo staining site's name in the sample sheet's site column."""
    return f"site{site}"


PAIRED_PATIENTS = 0.25  # about this share of patients hold two slides of the same label


def plan_cohort(demo: dict, n_slides: int, seed_offset: int = 0, prefix: str = "demo") -> list[DemoSlidePlan]:
    """Balanced tumor / normal slides with the settings of the config's `demo` section; another prefix and
    seed offset plan further slides (the demo's new slides)."""
    rng = np.random.default_rng([demo["seed"] + seed_offset, 0])
    labels = ["tumor" if i < n_slides // 2 + n_slides % 2 else "normal" for i in range(n_slides)]
    labels = [labels[i] for i in rng.permutation(n_slides)]
    plans, patient, i = [], 0, 0
    while i < n_slides:
        pair = i + 1 < n_slides and labels[i + 1] == labels[i] and rng.random() < PAIRED_PATIENTS * 2
        for j in range(2 if pair else 1):
            label = labels[i + j]
            fraction = float(rng.uniform(*demo["tumor_fraction"])) if label == "tumor" else 0.0
            plans.append(
                DemoSlidePlan(
                    slide_id=f"{prefix}_{i + j:03d}",
                    label=label,
                    patient_id=f"{prefix}_patient_{patient:03d}" if prefix != "demo" else f"patient_{patient:03d}",
                    tumor_fraction=round(fraction, 4),
                    seed=int(rng.integers(2**31)),
                    width=demo["width"],
                    height=demo["height"],
                    mpp=demo["mpp"],
                    artefacts=demo["artefacts"],
                    annotation_fraction=demo["annotation_fraction"],
                    jpeg_quality=demo["jpeg_quality"],
                    tumor_atypia=demo["tumor_atypia"],
                    site=patient % demo["sites"],
                    site_stain_shift=demo["site_stain_shift"],
                )
            )
        i += 2 if pair else 1
        patient += 1
    return plans


# the demo's outcome columns (demo.outcomes): a survival endpoint and a continuous score tied to the tumor burden
DEMO_TIME_COLUMN, DEMO_EVENT_COLUMN, DEMO_SCORE_COLUMN = "survival_months", "death", "tumor_score"
DEMO_PFS_TIME_COLUMN, DEMO_PFS_EVENT_COLUMN = "progression_months", "progression"  # a second endpoint
DEMO_PFS_HAZARD_FACTOR = 2.0  # progression comes at twice the hazard of death
DEMO_MEDIAN_MONTHS = 60.0  # median survival without tumor
DEMO_LOG_HAZARD_RATIO = 3.0  # log hazard ratio between the largest tumor share of demo.tumor_fraction and none
DEMO_FOLLOW_UP = (12.0, 120.0)  # months: censoring times are uniform in this range (end of follow-up)
DEMO_SCORE_NOISE = 3.0  # sd of the score's noise, in points (the score is 100 x the tumor share plus noise)


def demo_outcomes(plan: DemoSlidePlan, demo: dict) -> dict[str, str]:
    """A demo slide's survival time (months), event (1 death, 0 censored at the end of follow-up), progression-free
    time and event (progression or death, at DEMO_PFS_HAZARD_FACTOR the hazard) and continuous score, as sheet
    text: the hazard rises with the slide's tumor share (exponential times, log hazard ratio DEMO_LOG_HAZARD_RATIO
    at the top of demo.tumor_fraction), the score is 100 x the share plus noise."""
    rng = np.random.default_rng([plan.seed, 1])
    burden = plan.tumor_fraction / max(demo["tumor_fraction"][1], 1e-6)
    hazard = np.log(2) / DEMO_MEDIAN_MONTHS * np.exp(DEMO_LOG_HAZARD_RATIO * burden)
    event_time, censor_time = rng.exponential(1 / hazard), rng.uniform(*DEMO_FOLLOW_UP)
    score = 100 * plan.tumor_fraction + rng.normal(0, DEMO_SCORE_NOISE)
    progression_time = min(rng.exponential(1 / (DEMO_PFS_HAZARD_FACTOR * hazard)), event_time)
    return {
        DEMO_TIME_COLUMN: f"{min(event_time, censor_time):.2f}",
        DEMO_EVENT_COLUMN: str(int(event_time <= censor_time)),
        DEMO_PFS_TIME_COLUMN: f"{min(progression_time, censor_time):.2f}",
        DEMO_PFS_EVENT_COLUMN: str(int(progression_time <= censor_time)),
        DEMO_SCORE_COLUMN: f"{score:.2f}",
    }

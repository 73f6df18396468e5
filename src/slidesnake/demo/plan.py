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

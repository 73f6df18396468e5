"""Per-site evaluation of out-of-fold slide predictions (the sheet's site column): each site's slide AUC per model
with a patient-bootstrap 95% interval, and whether the site was unseen by the model that predicted it.

A site is unseen when all its slides were tested in one fold k: every slide is in the training part of every fold
but its own, so fold k's model never trained on a slide of the site. Under site-preserved cross-validation
(training.split_by: site) every site is unseen, and its AUC is the AUC on a site the model never saw; with
leave-one-site-out it is also that fold's AUC.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from slidesnake.core.labels import positive_class
from slidesnake.evaluation.metrics import grouped_interval, slide_auc
from slidesnake.io.predictions import probability_columns

SITES = "sites"  # the report's key of the per-site entry


def site_auc(table: pd.DataFrame, classes: list[str]) -> tuple[float | None, tuple[float, float] | None]:
    """The slide AUC of a predictions table's rows (one-vs-rest macro for several classes) and its
    patient-bootstrap interval; None where the rows hold one class."""
    y = table["label"].map(classes.index).to_numpy()
    probabilities = table[probability_columns(classes)].to_numpy()
    auc = slide_auc(y, probabilities)
    if auc is None:
        return None, None
    interval = grouped_interval(lambda rows: slide_auc(y[rows], probabilities[rows]), table["patient_id"].to_numpy())
    return auc, interval


def site_entry(tables: dict[str, pd.DataFrame], classes: list[str], sites: dict[str, str]) -> dict | None:
    """Per site (in name order): its slides, patients and positive slides, the fold it was held out in (None when
    its slides were tested in several folds, i.e. its other slides trained the models) and every model's AUC on
    it with the interval; also the mean AUC over the unseen sites per model. None with fewer than two sites."""
    if len(set(sites.values())) < 2 or not tables:
        return None
    positive = positive_class(classes)
    first = next(iter(tables.values()))
    site_of = first["slide_id"].map(sites)
    per_site = {}
    for site in sorted(site_of.dropna().unique()):
        rows = first[site_of == site]
        folds = rows["fold"].unique()
        per_site[site] = {
            "slides": int(len(rows)),
            "patients": int(rows["patient_id"].nunique()),
            "positive_slides": int((rows["label"] == positive).sum()),
            "held_out_fold": int(folds[0]) if len(folds) == 1 else None,
            "models": {},
        }
    for model, table in tables.items():
        of_site = table["slide_id"].map(sites)
        for site, entry in per_site.items():
            auc, interval = site_auc(table[of_site == site], classes)
            entry["models"][model] = {"auc": auc, "auc_ci": interval}
    unseen = [e for e in per_site.values() if e["held_out_fold"] is not None]
    mean_unseen = {
        model: float(np.mean(aucs)) if aucs else None
        for model in tables
        for aucs in [[e["models"][model]["auc"] for e in unseen if e["models"][model]["auc"] is not None]]
    }
    return {"per_site": per_site, "unseen_sites": len(unseen), "mean_unseen_site_auc": mean_unseen}

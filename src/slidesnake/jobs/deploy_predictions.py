"""Rule deploy_predictions: every fold's model and their ensemble on new slides, with fold-mean tile scores; the
ensemble's positive-class probability also calibrated by Platt scaling fitted on the model's out-of-fold
predictions, and called at the operating points chosen on them."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from slidesnake.core.labels import CLASSIFICATION, POSITIVE_INDEX, positive_class
from slidesnake.evaluation.aggregation import write_prediction_tables
from slidesnake.evaluation.calibration import platt_apply, platt_fit, threshold_rules
from slidesnake.io.feature_file import tile_size_level0
from slidesnake.io.manifest import read_manifest
from slidesnake.io.predictions import (
    calibrated_column,
    called_column,
    endpoint_table,
    output_column,
    prediction_table,
    probability_column,
    read_predictions,
)
from slidesnake.io.tile_scores import write_tile_scores
from slidesnake.mil.endpoints import predict_endpoint
from slidesnake.mil.models import score_kinds
from slidesnake.mil.train import Bags, checkpoint_site_standardisation, load_mil_checkpoint, predict

log = logging.getLogger(__name__)


def calibrated_platt(oof: pd.DataFrame, positive: str, p: np.ndarray) -> np.ndarray:
    """`p` (new slides' probabilities of `positive`) after Platt scaling fitted on all out-of-fold probabilities of
    the class (`oof`, a predictions table; the fold models' own, applied here to their mean); NaN when the
    out-of-fold slides hold one class."""
    params = platt_fit((oof["label"] == positive).to_numpy(), oof[probability_column(positive)].to_numpy())
    if params is None:
        log.warning("no Platt scaling: the out-of-fold predictions hold one class")
        return np.full(len(p), np.nan)
    log.info("Platt scaling of the new slides' probability of %s: a %.3f, b %.3f", positive, *params)
    return platt_apply(params, p)


def operating_calls(oof: pd.DataFrame, positive: str, p: np.ndarray) -> dict[str, np.ndarray]:
    """Column -> the new slides' calls (1: `positive`) at each operating-point rule's threshold, chosen on all
    out-of-fold probabilities of the class (`oof`, as the evaluation reports it for new slides); the ensemble's
    probability `p` is called against it. No column for a rule that finds no threshold (one class out of fold)."""
    y, oof_p = (oof["label"] == positive).to_numpy(), oof[probability_column(positive)].to_numpy()
    calls = {}
    for rule, choose in threshold_rules().items():
        threshold = choose(y, oof_p)
        if threshold is None:
            log.warning("no %s threshold: the out-of-fold predictions hold one class", rule)
            continue
        log.info("operating point %s: %s called from a probability of %.4f", rule, positive, threshold)
        calls[called_column(positive, rule)] = (np.asarray(p) >= threshold).astype(int)
    return calls


def site_bags(bags: Bags, checkpoint: dict, slides: list[str], sites: dict[str, str] | None) -> Bags:
    """The bags as a fold model trained with batch_correction site sees them: each new slide standardised with
    its site's training statistics, a site the fold never trained on with its new slides' own (label-free)."""
    fitted = checkpoint_site_standardisation(checkpoint)
    if fitted is None:
        return bags
    return fitted.covering(bags, slides, sites or {}).apply(bags, sites or {})


def run(
    model_paths: list[Path],
    feature_manifest: Path,
    patients: dict[str, str],
    slide_csv: Path,
    patient_csv: Path,
    tile_scores_path: Path,
    oof_paths: list[Path] | None = None,
    sites: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Predict every new slide with each fold's model; the ensemble is the mean of the fold probabilities (survival
    and regression models: of the fold risks or values; tile scores: the mean of the folds' scores). Slides without
    tiles are skipped with a warning. With `oof_paths` (the model's fold predictions on its test slides), a
    classification ensemble's positive-class probability is also given calibrated (calibrated_platt) and called at
    the operating points (operating_calls). `sites` (slide -> site) serve models trained with batch_correction
    site (site_bags)."""
    features = {s: Path(row["features"]) for s, row in read_manifest(feature_manifest).items()}
    bags = Bags(features)
    slides = [s for s in features if len(bags[s][0])]
    skipped = sorted(set(features) - set(slides))
    if skipped:
        log.warning("no tiles, so no prediction, for: %s", ", ".join(skipped))
    per_fold, scores, classes, endpoint = [], {s: [] for s in slides}, None, None
    for path in model_paths:
        model, checkpoint = load_mil_checkpoint(path)
        classes, endpoint = checkpoint["classes"], checkpoint.get("endpoint")
        fold_bags = site_bags(bags, checkpoint, slides, sites)
        if endpoint is None:
            probabilities, tile_scores = predict(model, fold_bags, slides, torch.device("cpu"))
        else:
            probabilities, tile_scores = predict_endpoint(
                model, fold_bags, slides, tuple(endpoint["target_scale"]), torch.device("cpu")
            )
        per_fold.append(probabilities)
        for s in slides:
            scores[s].append(tile_scores[s])
    ensemble = np.mean(per_fold, axis=0)
    if endpoint is None:
        table = prediction_table(slides, [patients[s] for s in slides], classes, ensemble)
        for fold, probabilities in enumerate(per_fold):
            table[probability_column(positive_class(classes), fold)] = probabilities[:, POSITIVE_INDEX]
        if oof_paths:
            positive, oof = positive_class(classes), read_predictions(oof_paths)
            table[calibrated_column(positive)] = calibrated_platt(oof, positive, ensemble[:, POSITIVE_INDEX])
            for column, calls in operating_calls(oof, positive, ensemble[:, POSITIVE_INDEX]).items():
                table[column] = calls
        write_prediction_tables(table, classes, slide_csv, patient_csv)
    else:
        kind = endpoint["type"]
        table = endpoint_table(slides, [patients[s] for s in slides], kind, ensemble)
        for fold, outputs in enumerate(per_fold):
            table[output_column(kind, fold)] = outputs
        write_prediction_tables(table, [], slide_csv, patient_csv)
    kinds = score_kinds(checkpoint["model"], endpoint["type"] if endpoint else CLASSIFICATION)
    ensemble_scores = {s: {name: np.mean([fold[name] for fold in scores[s]], axis=0) for name in kinds} for s in slides}
    write_tile_scores(
        tile_scores_path,
        ensemble_scores,
        {s: bags[s][1] for s in slides},
        {"ensemble_of_folds": len(model_paths)},
        kinds,
        tile_size_level0(features[slides[0]]) if slides else 0,
    )
    log.info("predicted %d new slides with %d fold models", len(slides), len(model_paths))
    return table

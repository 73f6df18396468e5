"""Benchmark: survival and regression heads on simulated cohorts whose truth and difficulty are known.

Each slide holds tumor tiles at a share drawn uniformly from [0, 2 x witness rate] (evaluation.simulation's
EndpointProblem); survival times follow a hazard exp(log_hr x z) of the standardised share z, with independent
exponential censoring; regression values are z plus noise. One 5-fold cross-validation (one slide per patient) of
ABMIL with the workflow's training code (mil.endpoints: Cox partial likelihood / Huber loss, model selection on
the validation C-index / -MSE), beside the oracle (a Cox / linear model on the true witness share, fitted on the
training folds) and the covariate baseline of the evaluate rule (Cox / ridge on log tile count and 2 principal
components of the slide-mean features). Out-of-fold C-index and R² with 95% bootstrap intervals.

    PYTHONPATH=src python benchmarks/bench_survival.py --out /tmp/bench_survival
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

TILES = dict(
    n_slides=160, tiles_per_slide=(50, 150), dim=64, signal_dims=8, witness_rate=0.2, oracle_auc=0.95, slide_sd=0.1
)
FOLDS = 5


def oracle_predictions(kind: str, share: np.ndarray, targets: dict, folds: np.ndarray) -> np.ndarray:
    """Out-of-fold outputs of a Cox (survival) or linear (regression) model on the true witness share."""
    from lifelines import CoxPHFitter
    from sklearn.linear_model import LinearRegression

    out = np.zeros(len(share))
    for fold in range(FOLDS):
        train, test = folds != fold, folds == fold
        if kind == "survival":
            frame = pd.DataFrame(
                {"share": share[train], "time": targets["time"][train], "event": targets["event"][train]}
            )
            model = CoxPHFitter().fit(frame, "time", "event")
            out[test] = model.predict_log_partial_hazard(pd.DataFrame({"share": share[test]})).to_numpy()
        else:
            out[test] = LinearRegression().fit(share[train, None], targets["value"][train]).predict(share[test, None])
    return out


def default_task(kind: str) -> dict:
    """The task spec of a survival or regression task with the schema's defaults."""
    from slidesnake.workflow.config import default_config
    from slidesnake.workflow.tasks import task_spec

    columns = {"survival": {"time_column": "t", "event_column": "e"}, "regression": {"value_column": "v"}}[kind]
    config = default_config(tasks={kind: {"type": kind, **columns}}, pu={"enabled": False})
    return task_spec(config["tasks"][kind])


def run(kind: str, epochs: int, seed: int, batch_slides: int = 16) -> dict:
    import torch

    from slidesnake.evaluation.endpoints import baseline_predictions, regression_entry, survival_entry
    from slidesnake.evaluation.simulation import EndpointProblem, TileProblem, simulate_endpoint
    from slidesnake.mil.endpoints import Endpoint, predict_endpoint, target_arrays, train_endpoint_fold
    from slidesnake.mil.params import TrainParams
    from slidesnake.mil.train import Bags
    from slidesnake.workflow.config import default_params

    torch.set_num_threads(1)
    problem = EndpointProblem(TileProblem(**TILES, seed=seed), kind=kind)
    cohort = simulate_endpoint(problem)
    slides, bags = cohort.slides(), Bags.in_memory(cohort.features)
    endpoint = Endpoint.from_spec({**default_task(kind), "batch_slides": batch_slides})
    params = default_params(TrainParams, "training", epochs=epochs, min_validation_slides=16, seed=seed, device="cpu")
    folds = np.random.default_rng(seed).permutation(len(slides)) % FOLDS
    outputs, started = np.zeros(len(slides)), time.time()
    for fold in range(FOLDS):
        rest = [s for s, f in zip(slides, folds, strict=True) if f != fold]
        val = rest[: len(rest) // 5]
        model, _, scale = train_endpoint_fold(
            "abmil", bags, cohort.targets, rest[len(val) :], val, endpoint, params, f"{kind} fold{fold}"
        )
        test = [s for s, f in zip(slides, folds, strict=True) if f == fold]
        outputs[folds == fold] = predict_endpoint(model, bags, test, scale, "cpu")[0]
    train_s = time.time() - started
    targets = target_arrays(endpoint, cohort.targets, slides)
    share = np.array([cohort.witness_share[s] for s in slides])
    simple = np.log1p([[len(cohort.features[s])] for s in slides])
    means = np.array([cohort.features[s].mean(0) for s in slides])
    predictions = {
        "abmil": outputs,
        "oracle (true witness share)": oracle_predictions(kind, share, targets, folds),
        "covariate baseline": baseline_predictions(kind, simple, means, targets, folds),
    }
    patients = np.arange(len(slides))
    if kind == "survival":
        entries = {n: survival_entry(targets["time"], targets["event"], p, patients) for n, p in predictions.items()}
        summary = {n: {"c_index": e["c_index"], "ci": e["c_index_ci"]} for n, e in entries.items()}
        setting = {"censored": float(1 - targets["event"].mean()), "log_hazard_ratio_per_sd": problem.log_hazard_ratio}
    else:
        entries = {n: regression_entry(targets["value"], p, patients) for n, p in predictions.items()}
        summary = {n: {"r2": e["r2"], "ci": e["r2_ci"], "pearson": e["pearson"]} for n, e in entries.items()}
        setting = {"value_noise_sd": problem.value_noise_sd, "oracle_r2_expected": 1 / (1 + problem.value_noise_sd**2)}
    return {
        "kind": kind,
        "tiles": TILES,
        "setting": setting,
        "epochs": epochs,
        "batch_slides": batch_slides,
        "train_s": train_s,
        "summary": summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default="survival,regression")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--batch-slides", type=int, default=None, help="default: the schema's tasks.<name>.batch_slides"
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/slidesnake-bench-survival"))
    args = parser.parse_args()
    if args.batch_slides is None:
        args.batch_slides = default_task("survival")["batch_slides"]
    args.out.mkdir(parents=True, exist_ok=True)
    results = {
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()},
        "runs": [run(kind, args.epochs, args.seed, args.batch_slides) for kind in args.kinds.split(",")],
    }
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    for result in results["runs"]:
        print(result["kind"], result["setting"], f"epochs {result['epochs']}, batch {result['batch_slides']}")
        print(f"  training 5 folds: {result['train_s']:.0f} s")
        for name, values in result["summary"].items():
            print(f"  {name}: {values}")


if __name__ == "__main__":
    main()

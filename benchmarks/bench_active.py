"""Benchmark: a simulated pathologist labelling the regions the workflow proposes, against random regions.

On feature-level simulated cohorts (slidesnake.evaluation.simulation, known tile truth): half the slides train,
half test. Round 0 trains the PU tile classifier (nnPU / PNU, the workflow's learner) on the starting partial
annotations; each round then picks `--per-round` unlabelled tiles of the positive training slides, either by
slidesnake.review.active (PU uncertainty at the tumor-mask threshold, greedy diversity across slides; the
simulator has no MIL evidence, so no disagreement term) or uniformly at random, labels them from the truth
(tumor -> P, benign -> confirmed negative, which joins N as in the workflow) and retrains. The prior given to
PU is the true tumor share of U each round (both strategies alike), so the curves compare the selection alone.
Reported per strategy and number of labelled regions: pooled tile AUC and slide AUC (top-k mean) on the test
slides, mean and 95% bootstrap interval over seeds (cohorts).

    PYTHONPATH=src python benchmarks/bench_active.py --out /tmp/bench_active
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

PROBLEM = dict(n_slides=40, tiles_per_slide=(150, 300), dim=64, signal_dims=8, witness_rate=0.1, oracle_auc=0.85)
STRATEGIES = ("proposed", "random")


def fit(p, u, n, prior, params):
    from slidesnake.pu.learner import train_tile_classifier

    model, scaler, _ = train_tile_classifier(p, u, n, prior, params, "nnpu")
    return model, scaler


def run_seed(seed: int, strategy: str, rounds: int, per_round: int, annotated: float, diversity: float) -> list:
    from sklearn.metrics import roc_auc_score

    from slidesnake.evaluation.simulation import TileProblem, simulate
    from slidesnake.pu.learner import tile_probabilities, top_k_mean
    from slidesnake.pu.masks import mask_threshold
    from slidesnake.pu.params import PUParams
    from slidesnake.review.active import acquisition, select_regions
    from slidesnake.workflow.config import default_params

    params = default_params(PUParams, "pu", min_steps=300, max_steps=600, eval_every=50, seed=seed)
    cohort = simulate(TileProblem(**PROBLEM, annotated_fraction=annotated, seed=seed))
    rng = np.random.default_rng(1000 + seed)
    slides = list(rng.permutation(cohort.slides()))
    train, test = slides[: len(slides) // 2], slides[len(slides) // 2 :]
    positives = [s for s in train if cohort.labels[s]]
    tumor = {s: cohort.annotated[s].copy() for s in positives}
    benign = {s: np.zeros(len(cohort.tumor[s]), bool) for s in positives}
    negatives = np.concatenate([cohort.features[s] for s in train if not cohort.labels[s]])
    curve = []
    for round_ in range(rounds + 1):
        p = np.concatenate([cohort.features[s][tumor[s]] for s in positives])
        confirmed = [cohort.features[s][benign[s]] for s in positives]
        unlabelled = {s: ~(tumor[s] | benign[s]) for s in positives}
        u = np.concatenate([cohort.features[s][unlabelled[s]] for s in positives])
        prior = float(np.concatenate([cohort.tumor[s][unlabelled[s]] for s in positives]).mean())
        model, scaler = fit(p, u, np.concatenate([negatives, *confirmed]), max(prior, 1e-3), params)
        probability = {s: tile_probabilities(model, scaler, cohort.features[s]) for s in test}
        truth = np.concatenate([cohort.tumor[s] for s in test])
        curve.append(
            {
                "regions": round_ * per_round,
                "tile_auc": float(roc_auc_score(truth, np.concatenate([probability[s] for s in test]))),
                "slide_auc": float(
                    roc_auc_score(
                        [cohort.labels[s] for s in test], [top_k_mean(probability[s], params.top_k) for s in test]
                    )
                ),
                "positive": int(len(p)),
            }
        )
        if round_ == rounds:
            break
        train_probability = {s: tile_probabilities(model, scaler, cohort.features[s]) for s in positives}
        threshold = mask_threshold(np.concatenate([train_probability[s][unlabelled[s]] for s in positives]), prior)
        if strategy == "proposed":
            scores = {s: acquisition(train_probability[s], threshold) for s in positives}
            labelled = {s: ~unlabelled[s] for s in positives}
            picks = [(s, i) for s, i, _ in select_regions(scores, cohort.features, labelled, per_round, diversity)]
        else:
            pool = [(s, int(i)) for s in positives for i in np.flatnonzero(unlabelled[s])]
            picks = [pool[k] for k in rng.choice(len(pool), min(per_round, len(pool)), replace=False)]
        for s, i in picks:  # the simulated pathologist labels the region from the truth
            (tumor if cohort.tumor[s][i] else benign)[s][i] = True
    return curve


def interval(values: np.ndarray, rng: np.random.Generator, draws: int = 2000) -> list[float]:
    """Mean and 95% percentile bootstrap interval over seeds."""
    means = rng.choice(values, (draws, len(values))).mean(1)
    return [float(values.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))]


def summarise(curves: dict[str, list[list[dict]]]) -> dict:
    rng = np.random.default_rng(0)
    table = {}
    for strategy, runs in curves.items():
        table[strategy] = [
            {
                "regions": runs[0][k]["regions"],
                **{m: interval(np.array([run[k][m] for run in runs]), rng) for m in ("tile_auc", "slide_auc")},
            }
            for k in range(len(runs[0]))
        ]
    paired = [  # proposed minus random on the same cohorts and starting annotations
        {
            "regions": curves["proposed"][0][k]["regions"],
            **{
                m: interval(
                    np.array([p[k][m] - r[k][m] for p, r in zip(curves["proposed"], curves["random"], strict=True)]),
                    rng,
                )
                for m in ("tile_auc", "slide_auc")
            },
        }
        for k in range(len(curves["proposed"][0]))
    ]
    final_random = table["random"][-1]["tile_auc"][0]
    reached = [row["regions"] for row in table["proposed"] if row["tile_auc"][0] >= final_random]
    return {
        "table": table,
        "paired_difference": paired,
        "random_final_tile_auc": final_random,
        "proposed_reaches_it_at": reached[0] if reached else None,
    }


def figure(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for axis, metric in zip(axes, ("tile_auc", "slide_auc"), strict=True):
        for strategy, rows in summary["table"].items():
            x = [r["regions"] for r in rows]
            mean, low, high = (np.array([r[metric][k] for r in rows]) for k in range(3))
            axis.plot(x, mean, marker="o", label=strategy)
            axis.fill_between(x, low, high, alpha=0.2)
        axis.set_xlabel("labelled regions (tiles)")
        axis.set_ylabel(metric.replace("_", " "))
        axis.legend()
    fig.suptitle("simulated pathologist: proposed vs random regions (mean, 95% interval over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--per-round", type=int, default=10)
    parser.add_argument("--annotated", type=float, default=0.02, help="starting share of annotated tumor tiles")
    parser.add_argument("--diversity", type=float, default=0.5)
    parser.add_argument("--figure", type=Path, default=None)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    curves = {
        strategy: [
            run_seed(seed, strategy, args.rounds, args.per_round, args.annotated, args.diversity)
            for seed in range(args.seeds)
        ]
        for strategy in STRATEGIES
    }
    summary = summarise(curves)
    summary |= {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, CPU",
        "seconds": round(time.time() - started, 1),
        "settings": {**vars(args), "out": str(args.out), "figure": str(args.figure), "problem": PROBLEM},
        "curves": curves,
    }
    (args.out / "active.json").write_text(json.dumps(summary, indent=2))
    if args.figure is not None:
        figure(summary, args.figure)
    for strategy, rows in summary["table"].items():
        for row in rows:
            tile, slide = row["tile_auc"], row["slide_auc"]
            print(
                f"{strategy:9s} {row['regions']:3d} regions: tile AUC {tile[0]:.3f} [{tile[1]:.3f}, {tile[2]:.3f}], "
                f"slide AUC {slide[0]:.3f} [{slide[1]:.3f}, {slide[2]:.3f}]"
            )
    print(
        "random's final tile AUC",
        summary["random_final_tile_auc"],
        "reached by proposed at",
        summary["proposed_reaches_it_at"],
    )


if __name__ == "__main__":
    main()

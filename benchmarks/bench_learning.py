"""Benchmark: the learners on simulated cohorts whose truth and difficulty are known.

MIL: for each setting (witness rate, oracle tile AUC, slide effects), one patient-free 5-fold
cross-validation of every MIL model with the workflow's default training parameters: out-of-fold slide AUC
(95% bootstrap interval), and how well tile evidence and attention point at the tumor tiles (mean per
tumor slide). The oracle tile AUC is that of a logistic regression trained on the true tile labels of the
training folds (and the analytic AUC the simulator aims at). PU: nnPU / PNU against the naive baseline at
priors 0.02-0.2, with the true prior and with the Elkan-Noto estimate, over several cohorts.

    PYTHONPATH=src python benchmarks/bench_learning.py --part mil --out /tmp/bench_learning
    PYTHONPATH=src python benchmarks/bench_learning.py --part mil --settings 'witness 5%, oracle 0.9, site effects' \
        --models mean_pool,abmil --remedies none,site,slide --tiles 200,600
    PYTHONPATH=src python benchmarks/bench_learning.py --part pu --out /tmp/bench_learning
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from slidesnake.mil.names import BATCH_CORRECTIONS

MIL_SETTINGS = {
    "witness 5%, oracle 0.9": dict(witness_rate=0.05, oracle_auc=0.92, slide_sd=0.0),
    "witness 1%, oracle 0.9": dict(witness_rate=0.01, oracle_auc=0.92, slide_sd=0.0),
    "witness 25%, oracle 0.8": dict(witness_rate=0.25, oracle_auc=0.8, slide_sd=0.0),
    "witness 5%, oracle 0.9, slide effects": dict(witness_rate=0.05, oracle_auc=0.92, slide_sd=0.5),
    "witness 5%, oracle 0.9, site effects": dict(
        witness_rate=0.05, oracle_auc=0.92, slide_sd=0.0, sites=4, site_sd=0.5
    ),
}
# batch-effect remedies (--remedies): the workflow's training.batch_correction (mil.correction), fitted per fold
# on its training slides (none, site, slide, slide_mean), and its domain-adversarial site head at weight
# ADVERSARY_WEIGHT (training.site_adversary)
ADVERSARY, ADVERSARY_WEIGHT = "site_adversary", 1.0
REMEDIES = (*BATCH_CORRECTIONS, ADVERSARY)
MIL_BASE = dict(n_slides=100, tiles_per_slide=(1000, 3000), dim=512, signal_dims=8)  # tiles: a WSI at 20x
PU_PRIORS = (0.02, 0.05, 0.1, 0.2)


def oracle_tile_auc(cohort, train: list[str], test: list[str]) -> float:
    """AUC on test tiles of a logistic regression trained on the true tile labels of the training slides."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    x = np.concatenate([cohort.features[s] for s in train])
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=0.1, max_iter=3000).fit(
        scaler.transform(x), np.concatenate([cohort.tumor[s] for s in train])
    )
    xt = np.concatenate([cohort.features[s] for s in test])
    return float(
        roc_auc_score(np.concatenate([cohort.tumor[s] for s in test]), model.decision_function(scaler.transform(xt)))
    )


def remedied_bags(cohort, train: list[str], test: list[str], remedy: str):
    """The cohort's bags for one fold: with remedy site, standardised per site as the workflow does it
    (mil.correction.SiteStandardisation: statistics of the `train` slides, and of a test site's own slides where
    it has no training slide); the per-bag remedies are applied by the model itself."""
    from slidesnake.mil.correction import SiteStandardisation
    from slidesnake.mil.names import SITE_CORRECTION
    from slidesnake.mil.train import Bags

    bags = Bags.in_memory(cohort.features)
    if remedy != SITE_CORRECTION:
        return bags
    return SiteStandardisation.fit(bags, train, cohort.site).covering(bags, test, cohort.site).apply(bags, cohort.site)


def mil_task(setting: str, model: str, seed: int, remedy: str = "none", tiles: tuple[int, int] | None = None) -> dict:
    """5-fold cross-validation of one model on one simulated cohort (`tiles`: other bag sizes), its features
    after `remedy` (training.batch_correction, fitted per fold on its training slides)."""
    import torch
    from sklearn.metrics import roc_auc_score

    from slidesnake.evaluation.metrics import grouped_auc_interval, mean_interval
    from slidesnake.evaluation.simulation import TileProblem, simulate
    from slidesnake.mil.params import TrainParams
    from slidesnake.mil.train import predict, train_fold
    from slidesnake.workflow.config import default_params

    torch.set_num_threads(1)
    start = time.perf_counter()
    base = {**MIL_BASE, **({"tiles_per_slide": tiles} if tiles else {})}
    cohort = simulate(TileProblem(seed=seed, **base, **MIL_SETTINGS[setting]))
    slides = cohort.slides()
    folds = np.array_split(np.random.default_rng(seed).permutation(slides), 5)
    params = default_params(
        TrainParams,
        "training",
        seed=seed,
        max_tiles=512,
        batch_correction=remedy if remedy in BATCH_CORRECTIONS else "none",
        site_adversary=ADVERSARY_WEIGHT if remedy == ADVERSARY else 0.0,
    )
    probability, evidence, attention, oracle = {}, [], [], []
    for test in folds:
        test = list(test)
        rest = [s for s in slides if s not in test]
        val, train = rest[: len(rest) // 5], rest[len(rest) // 5 :]
        bags = remedied_bags(cohort, rest, test, remedy)
        fitted, _ = train_fold(model, bags, cohort.labels, train, val, 2, params, sites=cohort.site)
        p, scores = predict(fitted, bags, test, torch.device("cpu"))
        probability.update({s: float(row[1]) for s, row in zip(test, p, strict=False)})
        for s in test:
            if cohort.labels[s]:
                evidence.append(roc_auc_score(cohort.tumor[s], scores[s]["score"]))
                if "attention" in scores[s]:
                    attention.append(roc_auc_score(cohort.tumor[s], scores[s]["attention"]))
        if model == "mean_pool":
            oracle.append(oracle_tile_auc(cohort, rest, test))
    y = np.array([cohort.labels[s] for s in probability])
    scores = np.array(list(probability.values()))
    return {
        "setting": setting,
        "model": model,
        "seed": seed,
        "remedy": remedy,
        "tiles_per_slide": list(base["tiles_per_slide"]),
        "slide_auc": float(roc_auc_score(y, scores)),
        "slide_auc_ci": grouped_auc_interval(y, scores, np.arange(len(y))),
        "evidence_tile_auc": float(np.mean(evidence)),
        "evidence_tile_auc_ci": mean_interval(evidence),
        "attention_tile_auc": float(np.mean(attention)) if attention else None,
        "attention_tile_auc_ci": mean_interval(attention) if attention else None,
        "oracle_tile_auc": float(np.mean(oracle)) if oracle else None,
        "analytic_oracle_auc": MIL_SETTINGS[setting]["oracle_auc"],
        "seconds": time.perf_counter() - start,
    }


def pu_task(prior: float, seed: int, estimate: bool) -> dict:
    """nnPU / PNU and the naive baseline on one simulated cohort: tile AUC on held-out slides."""
    import torch
    from sklearn.metrics import roc_auc_score

    from slidesnake.evaluation.simulation import TileProblem, simulate, witness_rate_for_prior
    from slidesnake.pu.learner import elkan_noto_prior, tile_probabilities, train_tile_classifier
    from slidesnake.pu.params import PUParams
    from slidesnake.workflow.config import default_params

    torch.set_num_threads(1)
    annotated = 0.2
    cohort = simulate(
        TileProblem(
            n_slides=40,
            witness_rate=witness_rate_for_prior(prior, annotated),
            annotated_fraction=annotated,
            oracle_auc=0.9,
            tiles_per_slide=(200, 600),
            seed=seed,
        )
    )
    slides = cohort.slides()
    train, test = slides[:32], slides[32:]
    positive = [s for s in train if cohort.labels[s]]
    p = np.concatenate([cohort.features[s][cohort.annotated[s]] for s in positive])
    u = np.concatenate([cohort.features[s][~cohort.annotated[s]] for s in positive])
    n = np.concatenate([cohort.features[s] for s in train if not cohort.labels[s]])
    true_prior = float(np.concatenate([cohort.tumor[s][~cohort.annotated[s]] for s in positive]).mean())
    used = elkan_noto_prior(p, u, seed=seed)["prior"] if estimate else true_prior
    x = np.concatenate([cohort.features[s] for s in test])
    y = np.concatenate([cohort.tumor[s] for s in test])
    out = {
        "prior": prior,
        "seed": seed,
        "estimated": estimate,
        "true_prior": true_prior,
        "prior_used": used,
        "n_positive": len(p),
        "n_unlabeled": len(u),
        "n_negative": len(n),
    }
    for mode in ("nnpu", "naive"):
        model, scaler, _ = train_tile_classifier(p, u, n, used, default_params(PUParams, "pu", seed=seed), mode)
        out[mode] = float(roc_auc_score(y, tile_probabilities(model, scaler, x)))
    return out


def run(tasks, workers: int, describe=json.dumps) -> list[dict]:
    """Run (function, arguments) tasks in `workers` processes; print `describe(result)` as each ends."""
    with ProcessPoolExecutor(workers) as pool:
        futures = [pool.submit(fn, *args) for fn, args in tasks]
        results = []
        for future in futures:
            results.append(future.result())
            print(describe(results[-1]), flush=True)
    return results


def ci(interval) -> str:
    return "" if not interval else f" [{interval[0]:.2f}, {interval[1]:.2f}]"


def mil_table(results: list[dict]) -> str:
    lines = [
        "| setting | oracle tile AUC (analytic) | model | remedy | slide AUC [95% CI] | tile evidence AUC [95% CI] "
        "| attention tile AUC |",
        "|---|---|---|---|---|---|---|",
    ]
    for setting in MIL_SETTINGS:
        rows = [r for r in results if r["setting"] == setting]
        if not rows:
            continue
        oracle = [r["oracle_tile_auc"] for r in rows if r["oracle_tile_auc"] is not None]
        for r in rows:
            attention = "n/a" if r["attention_tile_auc"] is None else f"{r['attention_tile_auc']:.3f}"
            lines.append(
                f"| {setting} | {np.mean(oracle):.3f} ({r['analytic_oracle_auc']:.2f}) | {r['model']} | "
                f"{r.get('remedy', 'none')} | {r['slide_auc']:.3f}{ci(r['slide_auc_ci'])} | "
                f"{r['evidence_tile_auc']:.3f}{ci(r['evidence_tile_auc_ci'])} | {attention} |"
            )
    return "\n".join(lines)


def pu_table(results: list[dict]) -> str:
    lines = [
        "| prior of U | prior used | annotated tiles P | nnPU / PNU tile AUC | naive tile AUC | nnPU - naive "
        "| prior error |",
        "|---|---|---|---|---|---|---|",
    ]
    for prior in PU_PRIORS:
        for estimated in (False, True):
            rows = [r for r in results if r["prior"] == prior and r["estimated"] == estimated]
            diff = [r["nnpu"] - r["naive"] for r in rows]
            lines.append(
                f"| {prior:.2f} | {'Elkan-Noto estimate' if estimated else 'true'} | "
                f"{np.mean([r['n_positive'] for r in rows]):.0f} | {np.mean([r['nnpu'] for r in rows]):.3f} | "
                f"{np.mean([r['naive'] for r in rows]):.3f} | {np.mean(diff):+.3f} (min {min(diff):+.3f}) | "
                f"{np.mean([r['prior_used'] - r['true_prior'] for r in rows]):+.3f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["mil", "pu"], required=True)
    parser.add_argument("--models", default="mean_pool,max_pool,abmil,clam_sb,transmil")
    parser.add_argument("--settings", default=";".join(MIL_SETTINGS), help="setting names separated by ;")
    parser.add_argument("--seeds", type=int, default=1, help="simulated cohorts per setting (PU: at least 3)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--remedies", default="none", help=f"batch-effect remedies, comma-separated: {REMEDIES}")
    parser.add_argument("--tiles", default=None, help="tiles per slide as MIN,MAX (default 1000,3000)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/slidesnake-bench-learning"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, CPU"
    if args.part == "mil":
        tiles = tuple(int(v) for v in args.tiles.split(",")) if args.tiles else None
        tasks = [
            (mil_task, (setting, model, seed, remedy, tiles))
            for setting in args.settings.split(";")
            for model in args.models.split(",")
            for remedy in args.remedies.split(",")
            for seed in range(1, args.seeds + 1)
        ]
        results = run(tasks, args.workers)
        table = mil_table(results)
    else:
        tasks = [
            (pu_task, (prior, seed, estimate))
            for prior in PU_PRIORS
            for estimate in (False, True)
            for seed in range(1, max(3, args.seeds) + 1)
        ]
        results = run(tasks, args.workers)
        table = pu_table(results)
    (args.out / f"{args.part}.json").write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    (args.out / f"{args.part}.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()

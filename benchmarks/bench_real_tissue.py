"""Benchmark: MIL and PU on labelled cohorts built from real H&E tissue (slidesnake.demo.real_tissue).

The pool of real-tissue tiles (benign from CMU-1-Small-Region, tumor from the TCGA frozen section, colour
and scale matched, three staining sites) is rendered and encoded once with the workflow's encoder
(random-weight resnet50_trunc by default, like the hidden cohort of the project's issue 28) and cached.
For each cohort size and seed a cohort is assembled (half the slides with tumor covering 3-25% of the
tissue, 30% of the tumor annotated PANDA-style) and run through the workflow's own code: the patient-level
splits (5 folds, validation part inside each), MIL training with the training defaults (or the variant
named with --variant), PU training with the PU defaults, the localisation and bootstrap-interval code of
the evaluation, and the tumor-mask threshold of slidesnake.pu.masks.

Per cohort: out-of-fold slide AUC with its 95% bootstrap interval over slides; evidence and attention
localisation (mean per tumor slide of the tile AUC against truth tumor tiles) with intervals; PU (nnPU /
PNU and the naive baseline) tile AUC on the tumor slides, and the Dice / IoU of the tumor masks on the
tumor slides (the thresholds of pu.mask_threshold's rules "dice" and "prior", and 0.5 for comparison).
The table gives the mean over seeds,
the interval of the pooled slides of all seeds (bootstrap over slides), and the seeds' range.

    PYTHONPATH=src python benchmarks/bench_real_tissue.py --sizes 16,48 --seeds 3 --out /tmp/bench_real_tissue
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from bench_learning import run  # benchmarks/ is on sys.path when a benchmark runs as a script

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MODELS = "mean_pool,max_pool,abmil,clam_sb,transmil"
TILE_LEARNERS = ("pu", "supervised")  # --models names that are not MIL models: PU, and the supervised ceiling
FOLDS = 5


def load_cohort(size: int, seed: int, cache: Path):
    from slidesnake.demo.real_tissue import CohortSpec, PoolSpec, assemble_cohort, build_pool

    pool = build_pool(DATA, PoolSpec(), cache=cache)
    return assemble_cohort(pool, CohortSpec(n_slides=size, seed=seed))


def cohort_splits(cohort, seed: int):
    import pandas as pd

    from slidesnake.evaluation.splits import patient_folds

    slides = cohort.slides()
    table = pd.DataFrame({"slide_id": slides, "patient_id": slides, "label": [cohort.labels[s] for s in slides]})
    return patient_folds(table, FOLDS, seed)


def mil_task(size: int, seed: int, model: str, variant: dict, cache: str) -> dict:
    """Out-of-fold slide probabilities and tile scores of one MIL model on one cohort."""
    import torch

    from slidesnake.evaluation.splits import fold_partitions
    from slidesnake.mil.params import TrainParams
    from slidesnake.mil.train import Bags, predict, train_fold
    from slidesnake.workflow.config import default_params

    torch.set_num_threads(1)
    start = time.perf_counter()
    cohort = load_cohort(size, seed, Path(cache))
    splits = cohort_splits(cohort, seed)
    bags = Bags.in_memory(cohort.features)
    params = default_params(TrainParams, "training", seed=seed, **variant)
    instance_labels = None
    if params.instance_weight > 0:
        from slidesnake.mil.train import instance_targets

        instance_labels = {s: instance_targets(cohort.annotated[s], bool(cohort.labels[s])) for s in cohort.slides()}
    probability, scores = {}, {}
    for fold in range(FOLDS):
        parts = fold_partitions(splits, fold)
        fitted, _ = train_fold(
            model, bags, cohort.labels, parts["train"], parts["val"], 2, params, instance_labels=instance_labels
        )
        p, tile_scores = predict(fitted, bags, parts["test"], torch.device("cpu"))
        probability.update({s: float(row[1]) for s, row in zip(parts["test"], p, strict=False)})
        scores.update(tile_scores)
    return {
        "size": size,
        "seed": seed,
        "model": model,
        "variant": variant,
        "seconds": time.perf_counter() - start,
        **score_cohort(cohort, probability, scores),
    }


def score_cohort(cohort, probability: dict, scores: dict) -> dict:
    from slidesnake.evaluation.localisation import localisation

    slides = list(probability)
    out = {"y": [cohort.labels[s] for s in slides], "p": [probability[s] for s in slides]}
    for kind in ("score", "attention"):
        if kind in scores[slides[0]]:
            result = localisation({s: scores[s][kind] for s in slides}, cohort.tumor_share, slides)
            out[kind] = result["per_slide"]
    return out


def pu_task(size: int, seed: int, cache: str, variant: dict) -> dict:
    """nnPU / PNU (with the PU keys of `variant`) and, at the defaults, the naive baseline per fold: tile
    probabilities of test slides and the masks."""
    from dataclasses import replace

    import torch

    from slidesnake.evaluation.splits import fold_partitions
    from slidesnake.pu.folds import MASK_RULES, fold_mask_threshold
    from slidesnake.pu.learner import elkan_noto_prior, tile_probabilities, train_tile_classifier
    from slidesnake.pu.params import PUParams
    from slidesnake.workflow.config import default_params

    torch.set_num_threads(1)
    start = time.perf_counter()
    cohort = load_cohort(size, seed, Path(cache))
    splits = cohort_splits(cohort, seed)
    params = default_params(PUParams, "pu", seed=seed, **variant)
    modes = ("nnpu",) if variant else ("nnpu", "naive")
    probabilities, thresholds, priors = {m: {} for m in modes}, {m: {} for m in modes}, []
    rules = {rule: replace(params, mask_threshold=rule) for rule in MASK_RULES}
    for fold in range(FOLDS):
        parts = fold_partitions(splits, fold)
        train = parts["train"] + parts["val"]
        positive = [s for s in train if cohort.labels[s]]
        p = np.concatenate([cohort.features[s][cohort.annotated[s]] for s in positive])
        u = np.concatenate([cohort.features[s][~cohort.annotated[s]] for s in positive])
        n = np.concatenate([cohort.features[s] for s in train if not cohort.labels[s]])
        prior = elkan_noto_prior(p, u, seed=seed)["prior"]
        true_prior = float(np.concatenate([cohort.tumor[s][~cohort.annotated[s]] for s in positive]).mean())
        priors.append({"estimated": prior, "true": true_prior})
        for mode in modes:
            model, scaler, _ = train_tile_classifier(p, u, n, prior, params, mode)
            thresholds[mode][fold] = {
                rule: fold_mask_threshold((model, scaler), p, u, n, prior, ruled) for rule, ruled in rules.items()
            }
            for s in parts["test"]:
                probabilities[mode][s] = (tile_probabilities(model, scaler, cohort.features[s]), fold)
    out = {"size": size, "seed": seed, "model": "pu", "variant": variant, "seconds": time.perf_counter() - start}
    out["priors"] = priors
    for mode in modes:
        out[mode] = pu_scores(cohort, probabilities[mode], thresholds[mode])
    return out


SUPERVISED_C = 0.1  # inverse L2 strength of the ceiling's logistic regression (0.01 gave 0.04 less Dice)


def supervised_task(size: int, seed: int, cache: str) -> dict:
    """The ceiling of the tile features: a logistic regression trained per fold on the truth of every tile of
    the training slides (no workflow has these labels), its threshold the one with the best Dice on them."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from slidesnake.evaluation.metrics import mask_overlap
    from slidesnake.evaluation.splits import fold_partitions
    from slidesnake.pu.masks import THRESHOLD_GRID

    start = time.perf_counter()
    cohort = load_cohort(size, seed, Path(cache))
    splits = cohort_splits(cohort, seed)
    probabilities, thresholds = {}, {}
    for fold in range(FOLDS):
        parts = fold_partitions(splits, fold)
        train = parts["train"] + parts["val"]
        x = np.concatenate([cohort.features[s] for s in train])
        scaler = StandardScaler().fit(x)
        model = LogisticRegression(C=SUPERVISED_C, max_iter=3000)
        model.fit(scaler.transform(x), np.concatenate([cohort.tumor[s] for s in train]))

        def probability(features, model=model, scaler=scaler):
            return model.predict_proba(scaler.transform(features))[:, 1]

        fitted = {s: probability(cohort.features[s]) for s in train if cohort.labels[s]}
        thresholds[fold] = {
            "dice": float(
                max(
                    THRESHOLD_GRID,
                    key=lambda t: np.mean([mask_overlap(fitted[s] >= t, cohort.tumor[s])["dice"] for s in fitted]),
                )
            )
        }
        probabilities.update({s: (probability(cohort.features[s]), fold) for s in parts["test"]})
    out = {"size": size, "seed": seed, "model": "supervised", "variant": {}, "seconds": time.perf_counter() - start}
    out["supervised"] = pu_scores(cohort, probabilities, thresholds)
    return out


def cut(thresholds: dict, fold: int, rule: str) -> float:
    return 0.5 if rule == "0.5" else thresholds[fold][rule]


def pu_scores(cohort, probabilities: dict, thresholds: dict) -> dict:
    from slidesnake.evaluation.localisation import localisation
    from slidesnake.evaluation.metrics import mask_overlap

    slides = list(probabilities)
    tumor_slides = [s for s in slides if cohort.labels[s]]
    loc = localisation({s: probabilities[s][0] for s in slides}, cohort.tumor_share, slides)
    masks = {}
    for rule in (*thresholds[0], "0.5"):
        masks[rule] = {
            s: mask_overlap(probabilities[s][0] >= cut(thresholds, probabilities[s][1], rule), cohort.tumor[s])
            for s in tumor_slides
        }
    benign_called = [
        float((probabilities[s][0] >= cut(thresholds, probabilities[s][1], "dice")).mean())
        for s in slides
        if not cohort.labels[s]
    ]
    return {
        "tile_auc": loc["per_slide"],
        "masks": masks,
        "benign_slides_called_tumor": benign_called,
        "thresholds": list(thresholds.values()),
    }


def describe(r: dict) -> str:
    return f"done: size {r['size']} seed {r['seed']} {r['model']} in {r['seconds']:.0f} s"


def interval(values: list[float]) -> str:
    from slidesnake.evaluation.metrics import mean_interval

    ci = mean_interval(values)
    return f"{np.mean(values):.3f}" + ("" if ci is None else f" [{ci[0]:.2f}, {ci[1]:.2f}]")


def seed_range(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if len(values) > 1 else "-"


def mil_rows(results: list[dict]) -> list[str]:
    from sklearn.metrics import roc_auc_score

    from slidesnake.evaluation.metrics import grouped_auc_interval

    lines = []
    for key in sorted(
        {(r["size"], r["model"], json.dumps(r["variant"])) for r in results if r["model"] not in TILE_LEARNERS}
    ):
        rows = [r for r in results if (r["size"], r["model"], json.dumps(r.get("variant"))) == key]
        per_seed = [roc_auc_score(r["y"], r["p"]) for r in rows]
        y = np.concatenate([r["y"] for r in rows])
        p = np.concatenate([[rank / len(r["p"]) for rank in np.argsort(np.argsort(r["p"]))] for r in rows])
        ci = grouped_auc_interval(y, p, np.arange(len(y)))
        cells = [f"{np.mean(per_seed):.3f} [{ci[0]:.2f}, {ci[1]:.2f}] ({seed_range(per_seed)})"]
        for kind in ("score", "attention"):
            if kind in rows[0]:
                pooled = [v for r in rows for v in r[kind].values()]
                cells.append(f"{interval(pooled)} ({seed_range([np.mean(list(r[kind].values())) for r in rows])})")
            else:
                cells.append("n/a")
        variant = ", ".join(f"{k}={v}" for k, v in json.loads(key[2]).items()) or "defaults"
        lines.append(f"| {key[0]} | {key[1]} | {variant} | {len(rows)} | " + " | ".join(cells) + " |")
    return lines


def pu_rows(results: list[dict]) -> list[str]:
    lines = []
    keys = {(r["size"], r["model"], json.dumps(r["variant"])) for r in results if r["model"] in TILE_LEARNERS}
    for size, learner, variant in sorted(keys):
        rows = [r for r in results if (r["size"], r["model"], json.dumps(r["variant"])) == (size, learner, variant)]
        priors = [f["estimated"] - f["true"] for r in rows for f in r.get("priors", [])]
        prior_error = f"{np.mean(priors):+.3f}" if priors else "n/a"
        named = ", ".join(f"{k}={v}" for k, v in json.loads(variant).items()) or "defaults"
        for mode in [m for m in ("nnpu", "naive", "supervised") if m in rows[0]]:
            auc = [v for r in rows for v in r[mode]["tile_auc"].values()]
            dice = {
                t: [m["dice"] for r in rows for m in r[mode]["masks"][t].values()]
                if t in rows[0][mode]["masks"]
                else None
                for t in ("dice", "prior", "0.5")
            }
            iou = [m["iou"] for r in rows for m in r[mode]["masks"]["dice"].values()]
            benign = [v for r in rows for v in r[mode]["benign_slides_called_tumor"]]
            prior_dice = interval(dice["prior"]) if dice["prior"] else "n/a"
            lines.append(
                f"| {size} | {mode} | {named} | {len(rows)} | {interval(auc)} | {interval(dice['dice'])} | "
                f"{interval(iou)} | {prior_dice} | {interval(dice['0.5'])} | {np.mean(benign):.3f} | {prior_error} |"
            )
    return lines


def tables(results: list[dict]) -> str:
    mil = [
        "| slides | model | variant | seeds | slide AUC, mean over seeds [95% CI, pooled slides] (seed range) | "
        "evidence localisation [CI] (seed range) | attention localisation [CI] (seed range) |",
        "|---|---|---|---|---|---|---|",
        *mil_rows(results),
    ]
    pu = [
        "| slides | tile learner | variant | seeds | tile AUC on tumor slides [CI] | mask Dice, threshold `dice` "
        "(default) [CI] | mask IoU [CI] | mask Dice, threshold `prior` [CI] | mask Dice at 0.5 [CI] | share of "
        "benign slides' tiles called tumor | prior error |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *pu_rows(results),
    ]
    return "\n".join(mil) + "\n\n" + "\n".join(pu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="16,48")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--models", default=MODELS + "," + ",".join(TILE_LEARNERS))
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="training keys as JSON, e.g. '{\"instance_weight\": 0.5}'; repeat to compare",
    )
    parser.add_argument(
        "--pu-variant",
        action="append",
        default=[],
        help="pu keys as JSON, e.g. '{\"eta\": 0.0}'; repeat to compare ('{}': the defaults, with the naive baseline)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/slidesnake-real-tissue"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_real_tissue"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from slidesnake.demo.real_tissue import PoolSpec, build_pool

    build_pool(DATA, PoolSpec(), cache=args.cache)  # once, before the workers read it
    variants = [json.loads(v) for v in args.variant] or [{}]
    pu_variants = [json.loads(v) for v in args.pu_variant] or [{}]
    tasks = []
    for size in map(int, args.sizes.split(",")):
        for seed in range(1, args.seeds + 1):
            for model in args.models.split(","):
                if model == "pu":
                    tasks += [(pu_task, (size, seed, str(args.cache), v)) for v in pu_variants]
                elif model == "supervised":
                    tasks.append((supervised_task, (size, seed, str(args.cache))))
                else:
                    tasks += [(mil_task, (size, seed, model, v, str(args.cache))) for v in variants]
    results = run(tasks, args.workers, describe)
    flags = [f for f in ("avx512f", "avx512_bf16", "amx_bf16") if f in Path("/proc/cpuinfo").read_text()]
    machine = f"{platform.machine()}, {os.cpu_count()} cores ({', '.join(flags) or 'no avx512'}), CPU"
    (args.out / "results.json").write_text(json.dumps({"machine": machine, "results": results}, default=float))
    table = tables(results)
    (args.out / "tables.md").write_text(f"Machine: {machine}\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()

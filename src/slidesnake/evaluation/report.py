"""The evaluation report as Markdown: every AUC with its 95% bootstrap interval, calibration and operating
points."""

from __future__ import annotations

from slidesnake.core.labels import ENDPOINTS
from slidesnake.evaluation.calibration import CALIBRATION, OPERATING_POINTS, PLATT, TARGET, YOUDEN
from slidesnake.evaluation.per_site import SITES
from slidesnake.io.exclusion import REASON, SOURCE, STAGE
from slidesnake.io.tile_scores import PU_MODES


def fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def with_interval(value, interval) -> str:
    """0.912 [0.85, 0.97]: a value and its 95% bootstrap interval."""
    if value is None:
        return "n/a"
    return fmt(value) if not interval else f"{value:.3f} [{interval[0]:.2f}, {interval[1]:.2f}]"


def endpoint_markdown(report: dict) -> list[str]:
    """The table of a survival task (C-index, log-rank p of the risk groups) or a regression task (R², Pearson,
    Spearman, MAE), one row per model and the covariate baseline, with 95% patient-bootstrap intervals."""
    rows = {**report["models"], **({"covariate baseline": report["baseline"]} if report.get("baseline") else {})}
    if report["type"] == "survival":
        lines = [
            f"## Task `{report['task']}`: survival (out of fold)",
            "",
            "Harrell's C-index with its 95% patient-bootstrap interval; log-rank p-values between the out-of-fold "
            "risk groups (median split, tertiles). The baseline is a Cox model on slide covariates (log tile count, "
            "tissue area, 2 principal components of the mean features) fitted on the same folds.",
            "",
            "| model | C-index (OOF) | fold C-index mean ± sd | log-rank p, median split | log-rank p, tertiles "
            "| slides | events |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, e in rows.items():
            groups = e["risk_groups"]
            lines.append(
                f"| {name} | {with_interval(e['c_index'], e.get('c_index_ci'))} | {fmt(e['fold_c_index_mean'])} ± "
                f"{fmt(e['fold_c_index_sd'])} | {fmt(groups['median']['logrank_p'])} | "
                f"{fmt(groups['tertiles']['logrank_p'])} | {e['n']} | {e['events']} |"
            )
        return lines
    lines = [
        f"## Task `{report['task']}`: regression (out of fold)",
        "",
        "95% patient-bootstrap intervals. The baseline is a ridge regression on slide covariates (log tile count, "
        "tissue area, 2 principal components of the mean features) fitted on the same folds.",
        "",
        "| model | R² (OOF) | Pearson | Spearman | MAE | fold R² mean ± sd | slides |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, e in rows.items():
        lines.append(
            f"| {name} | {with_interval(e['r2'], e.get('r2_ci'))} | {with_interval(e['pearson'], e.get('pearson_ci'))} "
            f"| {with_interval(e['spearman'], e.get('spearman_ci'))} | {with_interval(e['mae'], e.get('mae_ci'))} | "
            f"{fmt(e['fold_r2_mean'])} ± {fmt(e['fold_r2_sd'])} | {e['n']} |"
        )
    return lines


def markdown_report(report: dict) -> str:
    if report.get("type") in ENDPOINTS:
        return "\n".join(endpoint_markdown(report) + excluded_lines(report.get("excluded"))) + "\n"
    lines = [
        f"## Task `{report['task']}` (out of fold)",
        "",
        "AUCs with 95% bootstrap intervals (resampling patients for slide AUCs, slides for tile AUCs). "
        "Tile AUCs measure how well the tile scores point at truth tumor tiles, on tumor slides.",
        "",
        "| model | slide AUC (OOF) | fold AUC mean ± sd | balanced acc. | F1 | tile evidence AUC (mean per slide) "
        "| pooled ranked tile AUC | attention tile AUC (mean per slide) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model, e in report["models"].items():
        loc, att = e.get("localisation") or {}, e.get("attention_localisation") or {}
        lines.append(
            f"| {model} | {with_interval(e['oof']['auc'], e['oof'].get('auc_ci'))} | "
            f"{fmt(e['fold_auc_mean'])} ± {fmt(e['fold_auc_sd'])} | "
            f"{fmt(e['oof']['balanced_accuracy'])} | {fmt(e['oof']['f1'])} | "
            f"{with_interval(loc.get('mean_slide_auc'), loc.get('mean_slide_auc_ci'))} | "
            f"{with_interval(loc.get('pooled_ranked_auc'), loc.get('pooled_ranked_auc_ci'))} | "
            f"{with_interval(att.get('mean_slide_auc'), att.get('mean_slide_auc_ci'))} |"
        )
    lines += site_lines(report.get(SITES))
    lines += calibration_lines(report["models"]) + platt_lines(report["models"])
    lines += operating_point_lines(report["models"])
    pu = report.get("pu")
    if pu:
        lines += ["", "| PU tile classifier | tile AUC | slide AUC (top-k mean) |", "|---|---|---|"]
        for mode in PU_MODES:
            tile = with_interval((pu.get("tile_auc") or {}).get(mode), (pu.get("tile_auc_ci") or {}).get(mode))
            slide = with_interval(pu["slide_auc"][mode], (pu.get("slide_auc_ci") or {}).get(mode))
            lines.append(f"| {mode} | {tile} | {slide} |")
        lines += [
            "",
            f"Class prior of the unlabeled tiles: estimated {fmt(pu['prior']['mean_estimated_prior'])} "
            f"(Elkan-Noto, mean over folds), true {fmt(pu.get('true_prior_of_unlabeled'))}, "
            f"absolute error {fmt(pu.get('prior_abs_error'))}.",
        ]
        mask = pu.get("mask")
        if mask and mask["slides"]:
            lines += [
                "",
                f"Tumor masks (nnPU at each fold's mask threshold, tiles whose truth tumor share is at least "
                f"one half as truth), mean over {mask['slides']} tumor slides: Dice "
                f"{with_interval(mask['dice_mean'], mask['dice_ci'])}, IoU "
                f"{with_interval(mask['iou_mean'], mask['iou_ci'])}; share of the benign slides' tiles "
                f"called tumor {fmt(mask['benign_slides_tiles_called_tumor'])}.",
            ]
    return "\n".join(lines + excluded_lines(report.get("excluded"))) + "\n"


def excluded_lines(excluded: dict | None) -> list[str]:
    """How many slides per class were excluded (results/qc/{cohort}.tsv), and which, with their reasons."""
    if not excluded:
        return []
    counts = ", ".join(f"{c} {e['excluded']} of {e['slides']}" for c, e in excluded["per_class"].items())
    lines = ["", f"Excluded slides (not trained or evaluated on), per class: {counts}."]
    if excluded["slides"]:
        lines += ["", "| slide | class | stage | reason | file |", "|---|---|---|---|---|"]
        for e in excluded["slides"]:
            reason = e[REASON].replace("|", "/").replace("\n", " ")
            lines.append(f"| {e['slide_id']} | {e['class']} | {e[STAGE]} | {reason} | {e[SOURCE]} |")
    return lines


def site_lines(sites: dict | None) -> list[str]:
    """The per-site table: each site's slides and the fold it was held out in (unseen by that fold's model), and
    every model's slide AUC on it with its patient-bootstrap interval; the mean over the unseen sites."""
    if not sites:
        return []
    per_site = sites["per_site"]
    models = list(next(iter(per_site.values()))["models"])
    lines = [
        "",
        "Slide AUC per site (the sheet's site column), with patient-bootstrap 95% intervals. A site is unseen when "
        "all its slides were tested in one fold, whose model never trained on a slide of it (every site, under "
        "training.split_by: site).",
        "",
        "| site | slides (positive) | patients | unseen: held out in fold | " + " | ".join(models) + " |",
        "|---|---|---|---|" + "---|" * len(models),
    ]
    for site, e in per_site.items():
        held = "no (seen in training)" if e["held_out_fold"] is None else str(e["held_out_fold"])
        aucs = [with_interval(e["models"][m]["auc"], e["models"][m]["auc_ci"]) for m in models]
        lines.append(
            f"| {site} | {e['slides']} ({e['positive_slides']}) | {e['patients']} | {held} | " + " | ".join(aucs) + " |"
        )
    if sites["unseen_sites"]:
        means = [fmt(sites["mean_unseen_site_auc"][m]) for m in models]
        lines.append(f"| mean over the {sites['unseen_sites']} unseen sites | | | | " + " | ".join(means) + " |")
    return lines


def calibration_lines(models: dict) -> list[str]:
    """The calibration table (ECE and Brier score per model) and the reliability bins (observed share of
    positives per bin of predicted probability, one column per model)."""
    models = {m: e[CALIBRATION] for m, e in models.items() if e.get(CALIBRATION)}
    if not models:
        return []
    bins = next(iter(models.values()))["bins"]
    lines = [
        "",
        f"Calibration of the out-of-fold probability of the positive class: expected calibration error over {bins} "
        "equal-width bins (share-weighted mean of |observed share of positives - mean probability|) and Brier "
        "score, with patient-bootstrap 95% intervals.",
        "",
        "| model | ECE | Brier score |",
        "|---|---|---|",
    ]
    for model, c in models.items():
        lines.append(
            f"| {model} | {with_interval(c['ece'], c['ece_ci'])} | {with_interval(c['brier'], c['brier_ci'])} |"
        )
    lines += [
        "",
        "Reliability: observed share of positives [95% interval] (slides) per bin of predicted probability.",
        "",
        "| predicted | " + " | ".join(models) + " |",
        "|---|" + "---|" * len(models),
    ]
    for b, row in enumerate(next(iter(models.values()))["reliability"]):
        cells = []
        for c in models.values():
            r = c["reliability"][b]
            cells.append(f"{with_interval(r['observed'], r['observed_ci'])} ({r['count']})" if r["count"] else "-")
        lines.append(f"| {row['lower']:.1f}-{row['upper']:.1f} | " + " | ".join(cells) + " |")
    return lines


def platt_lines(models: dict) -> list[str]:
    """The post-hoc calibration table: per model the ECE and Brier score before and after Platt scaling (each fold
    calibrated by the map fitted on the other folds) and the cohort's map that new slides get."""
    models = {m: e[PLATT] for m, e in models.items() if e.get(PLATT)}
    if not models:
        return []
    lines = [
        "",
        "Post-hoc calibration by Platt scaling (calibrated probability sigmoid(a logit(p) + b)): each fold's map is "
        "fitted on the other folds' out-of-fold predictions and applied to the fold, so no map is scored on the "
        "slides it was fitted on; patient-bootstrap 95% intervals. New slides get the cohort's map, fitted on all "
        "out-of-fold predictions (the calibrated probability column of the new-slide predictions).",
        "",
        "| model | ECE before | ECE after | Brier before | Brier after | slides | cohort map a, b |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, e in models.items():
        before, after, cohort = e["before"], e["after"], e["cohort_params"]
        lines.append(
            f"| {model} | {with_interval(before['ece'], before['ece_ci'])} | "
            f"{with_interval(after['ece'], after['ece_ci'])} | {with_interval(before['brier'], before['brier_ci'])} | "
            f"{with_interval(after['brier'], after['brier_ci'])} | {e['slides']} | "
            + ("n/a" if cohort is None else f"{cohort[0]:.3f}, {cohort[1]:.3f}")
            + " |"
        )
    return lines


def operating_point_lines(models: dict) -> list[str]:
    """The operating-point table: per model and rule, the threshold for new slides (chosen on all out-of-fold
    predictions), the range of the per-fold thresholds, and the sensitivity and specificity they reach."""
    models = {m: e[OPERATING_POINTS] for m, e in models.items() if e.get(OPERATING_POINTS)}
    if not models:
        return []
    lines = [
        "",
        "Operating points (a slide is called positive when its probability reaches the threshold). Each fold's "
        "threshold is chosen on the other folds' out-of-fold predictions and applied to the fold; sensitivity and "
        "specificity are those of the applied thresholds, with patient-bootstrap 95% intervals. The threshold for "
        "new slides is chosen on all out-of-fold predictions.",
        "",
        "| model | rule | threshold for new slides | per-fold thresholds | sensitivity | specificity |",
        "|---|---|---|---|---|---|",
    ]
    for model, points in models.items():
        for rule in (YOUDEN, TARGET):
            o = points[rule]
            name = "Youden's J" if rule == YOUDEN else f"sensitivity >= {o['target']:g}"
            folds = [t for t in o["fold_thresholds"].values() if t is not None]
            spread = f"{min(folds):.3f}-{max(folds):.3f}" if folds else "n/a"
            lines.append(
                f"| {model} | {name} | {fmt(o['threshold'])} | {spread} | "
                f"{with_interval(o['sensitivity'], o['sensitivity_ci'])} | "
                f"{with_interval(o['specificity'], o['specificity_ci'])} |"
            )
    return lines

"""The evaluation report as Markdown: every AUC with its 95% bootstrap interval."""

from __future__ import annotations

from slidesnake.io.tile_scores import PU_MODES


def fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def with_interval(value, interval) -> str:
    """0.912 [0.85, 0.97]: a value and its 95% bootstrap interval."""
    if value is None:
        return "n/a"
    return fmt(value) if not interval else f"{value:.3f} [{interval[0]:.2f}, {interval[1]:.2f}]"


def markdown_report(report: dict) -> str:
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
    return "\n".join(lines) + "\n"

"""The evaluation report as Markdown."""

from __future__ import annotations

from slidesnake.io.tile_scores import PU_MODES


def fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def markdown_report(report: dict) -> str:
    lines = [f"## Task `{report['task']}` (out of fold)", "",
             "| model | slide AUC (OOF) | fold AUC mean ± sd | balanced acc. | F1 | attention tile AUC (mean per slide) | pooled ranked tile AUC |",
             "|---|---|---|---|---|---|---|"]
    for model, e in report["models"].items():
        loc = e.get("localisation") or {}
        lines.append(f"| {model} | {fmt(e['oof']['auc'])} | {fmt(e['fold_auc_mean'])} ± {fmt(e['fold_auc_sd'])} | "
                     f"{fmt(e['oof']['balanced_accuracy'])} | {fmt(e['oof']['f1'])} | "
                     f"{fmt(loc.get('mean_slide_auc'))} | {fmt(loc.get('pooled_ranked_auc'))} |")
    pu = report.get("pu")
    if pu:
        lines += ["", "| PU tile classifier | tile AUC | slide AUC (top-k mean) |", "|---|---|---|"]
        for mode in PU_MODES:
            lines.append(f"| {mode} | {fmt((pu.get('tile_auc') or {}).get(mode))} | {fmt(pu['slide_auc'][mode])} |")
        lines += ["", f"Class prior of the unlabeled tiles: estimated {fmt(pu['prior']['mean_estimated_prior'])} "
                      f"(Elkan-Noto, mean over folds), true {fmt(pu.get('true_prior_of_unlabeled'))}, "
                      f"absolute error {fmt(pu.get('prior_abs_error'))}."]
    return "\n".join(lines) + "\n"

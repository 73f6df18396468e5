"""Cohort figures: ROC curves per fold with their mean and spread, confusion matrix, reliability diagram,
training curves, tiles and tissue area per slide."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import auc, confusion_matrix, roc_curve  # noqa: E402

from slidesnake.evaluation.calibration import expected_calibration_error, reliability_bins  # noqa: E402
from slidesnake.io.predictions import probability_column  # noqa: E402

FPR_GRID = np.linspace(0, 1, 101)


def roc_figure(path, predictions: dict[str, pd.DataFrame], positive: str) -> dict:
    """One panel per model: thin fold curves, the mean curve and a +-1 sd band; returns AUCs."""
    models = list(predictions)
    figure, axes = plt.subplots(1, len(models), figsize=(3.2 * len(models), 3.4), dpi=130, squeeze=False)
    summary = {}
    for axis, model in zip(axes[0], models, strict=False):
        table = predictions[model]
        curves, aucs = [], []
        for fold, group in table.groupby("fold"):
            y = (group["label"] == positive).to_numpy()
            if y.all() or not y.any():
                continue
            fpr, tpr, _ = roc_curve(y, group[probability_column(positive)])
            aucs.append(auc(fpr, tpr))
            curves.append(np.interp(FPR_GRID, fpr, tpr, left=0))
            axis.plot(fpr, tpr, lw=0.8, alpha=0.4, label=f"fold {fold} ({aucs[-1]:.2f})")
        if curves:
            mean, sd = np.mean(curves, 0), np.std(curves, 0)
            axis.plot(FPR_GRID, mean, color="black", lw=2, label=f"mean {np.mean(aucs):.2f} ± {np.std(aucs):.2f}")
            axis.fill_between(FPR_GRID, np.clip(mean - sd, 0, 1), np.clip(mean + sd, 0, 1), color="grey", alpha=0.25)
        axis.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
        axis.set(title=model, xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.02))
        axis.legend(fontsize=6, loc="lower right")
        summary[model] = {
            "mean_auc": float(np.mean(aucs)) if aucs else None,
            "sd_auc": float(np.std(aucs)) if aucs else None,
        }
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return summary


def confusion_figure(path, predictions: dict[str, pd.DataFrame], classes: list[str]) -> None:
    models = list(predictions)
    figure, axes = plt.subplots(1, len(models), figsize=(2.8 * len(models), 2.9), dpi=130, squeeze=False)
    for axis, model in zip(axes[0], models, strict=False):
        table = predictions[model]
        matrix = confusion_matrix(table["label"], table["prediction"], labels=classes)
        axis.imshow(matrix, cmap="Blues")
        for (i, j), value in np.ndenumerate(matrix):
            axis.text(
                j, i, str(value), ha="center", va="center", color="white" if value > matrix.max() / 2 else "black"
            )
        axis.set(title=model, xticks=range(len(classes)), yticks=range(len(classes)), xlabel="predicted", ylabel="true")
        axis.set_xticklabels(classes, fontsize=7)
        axis.set_yticklabels(classes, fontsize=7)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def reliability_figure(path, predictions: dict[str, pd.DataFrame], positive: str) -> None:
    """One panel per model: the observed share of positives against the mean out-of-fold probability of the
    positive class in each non-empty equal-width bin (marker area by slide count), the diagonal of perfect
    calibration, and the expected calibration error in the title."""
    models = list(predictions)
    figure, axes = plt.subplots(1, len(models), figsize=(3.0 * len(models), 3.2), dpi=130, squeeze=False)
    for axis, model in zip(axes[0], models, strict=False):
        table = predictions[model]
        y, p = (table["label"] == positive).to_numpy(), table[probability_column(positive)].to_numpy()
        bins = [b for b in reliability_bins(y, p) if b["count"]]
        predicted, observed = [b["mean_predicted"] for b in bins], [b["observed"] for b in bins]
        axis.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
        axis.plot(predicted, observed, color="black", lw=1)
        axis.scatter(predicted, observed, s=[12 + 4 * b["count"] for b in bins], color="tab:blue", zorder=3)
        ece = expected_calibration_error(y, p)
        axis.set(
            title=f"{model} (ECE {ece:.3f})" if ece is not None else model,
            xlabel=f"mean probability of {positive}",
            ylabel="observed share",
            xlim=(0, 1),
            ylim=(-0.03, 1.03),
        )
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def training_curves_figure(path, metrics_files: dict[str, list]) -> None:
    models = list(metrics_files)
    figure, axes = plt.subplots(1, len(models), figsize=(3.2 * len(models), 3.0), dpi=130, squeeze=False, sharey=True)
    for axis, model in zip(axes[0], models, strict=False):
        for k, path_k in enumerate(metrics_files[model]):
            history = json.loads(open(path_k).read())["history"]
            (line,) = axis.plot(history["epoch"], history["train_loss"], lw=1, label=f"fold {k} train")
            axis.plot(history["epoch"], history["val_loss"], lw=1, ls="--", color=line.get_color())
            axis.axvline(history["best_epoch"], color=line.get_color(), lw=0.5, alpha=0.5)
        axis.set(title=model, xlabel="epoch", ylabel="loss (solid train, dashed validation)")
        axis.legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def per_slide_bars(path, table: pd.DataFrame, value: str, ylabel: str, label_column: str = "label") -> None:
    table = table.sort_values(value)
    figure, axis = plt.subplots(figsize=(max(4, 0.25 * len(table) + 1), 3), dpi=130)
    labels = table[label_column].fillna("unlabelled").astype(str)
    palette = {name: plt.cm.tab10(i) for i, name in enumerate(sorted(labels.unique()))}
    axis.bar(range(len(table)), table[value], color=[palette[l] for l in labels])
    axis.set_xticks(range(len(table)))
    axis.set_xticklabels(table["slide_id"], rotation=90, fontsize=6)
    axis.set_ylabel(ylabel)
    axis.legend(
        handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in palette.values()], labels=list(palette), fontsize=7
    )
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)

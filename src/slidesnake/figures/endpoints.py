"""Figures of survival and regression tasks: Kaplan-Meier curves of the out-of-fold risk groups with the log-rank
p-value (lifelines' Kaplan-Meier estimator), and predicted against true values."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from lifelines import KaplanMeierFitter  # noqa: E402

from slidesnake.evaluation.endpoints import RISK_GROUPS, risk_groups  # noqa: E402
from slidesnake.evaluation.report import fmt, with_interval  # noqa: E402

GROUP_NAMES = {2: ("low risk", "high risk"), 3: ("low risk", "middle", "high risk")}


def kaplan_meier_figure(path, tables: dict[str, pd.DataFrame], entries: dict[str, dict], output: str) -> None:
    """One row per model, one panel per risk grouping (median split, tertiles of the out-of-fold risk): each group's
    Kaplan-Meier curve; titles give the C-index with its interval and the log-rank p-value."""
    models = list(tables)
    figure, axes = plt.subplots(
        len(models), len(RISK_GROUPS), figsize=(3.6 * len(RISK_GROUPS), 3.0 * len(models)), dpi=130, squeeze=False
    )
    for row, model in zip(axes, models, strict=True):
        table, entry = tables[model], entries[model]
        for axis, (name, count) in zip(row, RISK_GROUPS.items(), strict=True):
            group = risk_groups(table[output].to_numpy(), count)
            for g, label in enumerate(GROUP_NAMES[count]):
                members = group == g
                if members.any():
                    KaplanMeierFitter(label=f"{label} (n={members.sum()})").fit(
                        table["time"][members], table["event"][members]
                    ).plot_survival_function(ax=axis, ci_show=False)
            axis.set(
                title=f"{model}, {name}: C {with_interval(entry['c_index'], entry.get('c_index_ci'))}\n"
                f"log-rank p {fmt(entry['risk_groups'][name]['logrank_p'])}",
                xlabel="time",
                ylabel="survival",
                ylim=(0, 1.05),
            )
            axis.title.set_fontsize(7)
            axis.legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def scatter_figure(path, tables: dict[str, pd.DataFrame], entries: dict[str, dict], output: str) -> None:
    """One panel per model: out-of-fold predicted against true values, the identity line, R² and Pearson r with
    their intervals."""
    models = list(tables)
    figure, axes = plt.subplots(1, len(models), figsize=(3.4 * len(models), 3.4), dpi=130, squeeze=False)
    for axis, model in zip(axes[0], models, strict=True):
        table, entry = tables[model], entries[model]
        axis.scatter(table["value"], table[output], s=12, alpha=0.8)
        limits = [
            np.nanmin([table["value"].min(), table[output].min()]),
            np.nanmax([table["value"].max(), table[output].max()]),
        ]
        axis.plot(limits, limits, ls="--", color="grey", lw=0.8)
        axis.set(
            title=f"{model}: R² {with_interval(entry['r2'], entry.get('r2_ci'))}\n"
            f"r {with_interval(entry['pearson'], entry.get('pearson_ci'))}",
            xlabel="true value",
            ylabel="predicted value (out of fold)",
        )
        axis.title.set_fontsize(7)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


ENDPOINT_FIGURES = {"kaplan_meier": kaplan_meier_figure, "scatter": scatter_figure}

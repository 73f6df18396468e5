"""Survival and regression tasks: the losses against reference computations, the C-index against lifelines, the
named errors of bad targets, the stratified splits, and every registry model's one-output head."""

import numpy as np
import pandas as pd
import pytest
import torch
from lifelines import CoxPHFitter
from lifelines.utils import concordance_index

from helpers import train_params
from slidesnake.core.errors import ConfigError, TaskTargetError
from slidesnake.evaluation.endpoints import (
    baseline_predictions,
    harrell_c,
    regression_entry,
    risk_groups,
    survival_entry,
)
from slidesnake.evaluation.simulation import EndpointProblem, TileProblem, simulate_endpoint
from slidesnake.evaluation.splits import EVENT, TIME, VALUE, check_no_leakage
from slidesnake.jobs import splits as splits_job
from slidesnake.mil.endpoints import Endpoint, predict_endpoint, train_endpoint_fold
from slidesnake.mil.losses import cox_partial_likelihood, regression_loss
from slidesnake.mil.models import MIL_MODELS, build_mil_model
from slidesnake.mil.train import Bags
from slidesnake.workflow.config import default_config
from slidesnake.workflow.sheet import SlideRecord
from slidesnake.workflow.tasks import regression_targets, survival_targets, task_spec

SURVIVAL_TASK = {"type": "survival", "time_column": "os", "event_column": "dead", "batch_slides": 4}
REGRESSION_TASK = {"type": "regression", "value_column": "score", "standardise": True, "loss": "huber"}


def breslow_reference(risk, time, event) -> float:
    """The negative Breslow log partial likelihood per event, written out as a loop over the events."""
    total = 0.0
    for i in np.flatnonzero(event):
        total -= risk[i] - np.log(np.exp(risk[time >= time[i]]).sum())
    return total / event.sum()


def test_cox_loss_matches_the_breslow_formula_with_ties():
    rng = np.random.default_rng(0)
    risk = rng.normal(size=12)
    time = np.array([1, 2, 2, 2, 3, 4, 4, 5, 6, 6, 7, 8], float)  # tied times, some censored among the ties
    event = np.array([1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1], float)
    loss = cox_partial_likelihood(torch.tensor(risk), torch.tensor(time), torch.tensor(event))
    assert float(loss) == pytest.approx(breslow_reference(risk, time, event), rel=1e-10)


def test_cox_loss_of_an_all_censored_batch_is_zero_with_zero_gradient():
    risk = torch.randn(5, requires_grad=True)
    loss = cox_partial_likelihood(risk, torch.arange(5.0), torch.zeros(5))
    loss.backward()
    assert loss.item() == 0 and torch.equal(risk.grad, torch.zeros(5))


def test_cox_loss_minimum_is_lifelines_cox_fit():
    """Without ties Breslow and lifelines' Efron agree: minimising our loss over a linear risk finds its beta."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 2))
    time = rng.exponential(1 / np.exp(x @ [0.8, -0.5]))
    event = (rng.random(60) < 0.7).astype(float)
    beta = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([beta], max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-14)
    xt, tt, et = torch.tensor(x), torch.tensor(time), torch.tensor(event)

    def closure():
        optimiser.zero_grad()
        loss = cox_partial_likelihood(xt @ beta, tt, et)
        loss.backward()
        return loss

    optimiser.step(closure)
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "time": time, "event": event})
    fitted = CoxPHFitter().fit(frame, "time", "event").params_.to_numpy()
    np.testing.assert_allclose(beta.detach().numpy(), fitted, atol=1e-4)


def test_regression_losses_against_numpy():
    prediction, target = torch.tensor([0.0, 1.0, 3.0]), torch.tensor([0.5, 1.0, 0.0])
    assert float(regression_loss(prediction, target, "mse")) == pytest.approx(np.mean([0.25, 0, 9]))
    huber = np.mean([0.5 * 0.25, 0, 3 - 0.5])  # |e| <= 1: e²/2, else |e| - 1/2
    assert float(regression_loss(prediction, target, "huber")) == pytest.approx(huber)


def test_c_index_is_lifelines_and_counts_pairs():
    rng = np.random.default_rng(2)
    time, event, risk = rng.exponential(size=40), rng.random(40) < 0.6, rng.normal(size=40)
    assert harrell_c(time, event, risk) == pytest.approx(concordance_index(time, -risk, event))
    concordant = comparable = 0.0
    for i in range(40):
        for j in range(40):
            if event[i] and time[i] < time[j]:
                comparable += 1
                concordant += 1.0 if risk[i] > risk[j] else 0.5 if risk[i] == risk[j] else 0.0
    assert harrell_c(time, event, risk) == pytest.approx(concordant / comparable)
    assert harrell_c(time, np.zeros(40), risk) is None


def test_survival_and_regression_entries_have_intervals_and_logrank():
    rng = np.random.default_rng(3)
    risk = rng.normal(size=60)
    time, event = rng.exponential(1 / np.exp(risk)), np.ones(60)
    entry = survival_entry(time, event, risk, np.arange(60), samples=200)
    low, high = entry["c_index_ci"]
    assert low < entry["c_index"] < high and entry["c_index"] > 0.6
    assert entry["risk_groups"]["median"]["logrank_p"] < 0.05 and entry["risk_groups"]["tertiles"]["slides"] == [20] * 3
    assert list(risk_groups(np.array([3.0, 1.0, 2.0, 0.0]), 2)) == [1, 0, 1, 0]
    y = rng.normal(size=60)
    regression = regression_entry(y, y + rng.normal(0, 0.3, 60), np.arange(60), samples=200)
    assert regression["r2"] > 0.8 and regression["r2_ci"][0] < regression["r2"] < regression["r2_ci"][1]


def records(column_values: dict[str, list]) -> dict[str, SlideRecord]:
    n = len(next(iter(column_values.values())))
    return {
        f"s{i}": SlideRecord(
            f"s{i}", "/x.svs", "path", "svs", f"p{i}", i + 1, columns={k: v[i] for k, v in column_values.items()}
        )
        for i in range(n)
    }


@pytest.mark.parametrize(
    ("columns", "row", "column", "fragment"),
    [
        ({"os": ["1", "2"]}, None, "dead", "has no column 'dead'"),
        ({"os": ["1", "soon"], "dead": ["1", "0"]}, 2, "os", "'soon' of slide 's1' is not a number"),
        ({"os": ["1", "-2"], "dead": ["1", "0"]}, 2, "os", "negative"),
        ({"os": ["1", "2"], "dead": ["0", "no"]}, None, "dead", "no slide has an event"),
        ({"os": ["1", "2"], "dead": ["1", "maybe"]}, 2, "dead", "'maybe' of slide 's1' is neither"),
        ({"os": ["1", None], "dead": ["1", "0"]}, 2, "os", "has no value"),
    ],
)
def test_bad_survival_targets_name_task_sheet_row_and_column(columns, row, column, fragment):
    with pytest.raises(TaskTargetError) as info:
        survival_targets(records(columns), "os_task", SURVIVAL_TASK, "my_sheet.tsv")
    message = str(info.value)
    assert "task 'os_task'" in message and "my_sheet.tsv" in message and f"column '{column}'" in message
    assert fragment in message and (row is None or f"row {row}" in message)


def test_bad_regression_value_is_named_and_good_targets_parse():
    with pytest.raises(TaskTargetError, match=r"my_sheet.tsv, row 1, column 'score'.*'high' of slide 's0'"):
        regression_targets(records({"score": ["high", "2"]}), "tmb", REGRESSION_TASK, "my_sheet.tsv")
    assert regression_targets(records({"score": ["1.5", "2"]}), "tmb", REGRESSION_TASK, None) == {"s0": 1.5, "s1": 2.0}
    good = survival_targets(records({"os": ["3", "0"], "dead": ["yes", "0"]}), "t", SURVIVAL_TASK, None)
    assert good == {"s0": [3.0, 1], "s1": [0.0, 0]}


def test_task_config_requires_the_type_columns_and_fills_defaults():
    with pytest.raises(ConfigError, match="time_column"):
        default_config(tasks={"os": {"type": "survival", "event_column": "dead"}}, pu={"enabled": False})
    config = default_config(
        tasks={"os": {"type": "survival", "time_column": "t", "event_column": "e"}}, pu={"enabled": False}
    )
    assert task_spec(config["tasks"]["os"]) == {
        "type": "survival",
        "time_column": "t",
        "event_column": "e",
        "batch_slides": 32,
    }
    with pytest.raises(ConfigError, match="pu.task"):
        default_config(tasks={"tumor": {"type": "regression", "value_column": "v"}})


def test_survival_splits_are_stratified_by_event_and_regression_by_quantile(tmp_path):
    rng = np.random.default_rng(4)
    slides = [f"s{i:02d}" for i in range(40)]
    patients = {s: f"p{i // 2}" for i, s in enumerate(slides)}
    targets = {s: [float(rng.exponential()), int(i % 4 == 0)] for i, s in enumerate(slides)}
    table = splits_job.run(targets, patients, 5, 0, tmp_path / "s.csv", "survival")
    check_no_leakage(table)
    assert set(table.columns) >= {TIME, EVENT, "label"} and table[EVENT].sum() == 10
    for fold in range(5):
        assert table.loc[table[f"fold{fold}"] == "test", EVENT].sum() >= 1  # every test part has events
    values = {s: float(i) for i, s in enumerate(slides)}
    table = splits_job.run(values, patients, 5, 0, tmp_path / "r.csv", "regression")
    assert set(table["label"]) == {"q1", "q2", "q3", "q4"} and VALUE in table
    for fold in range(5):
        assert set(table.loc[table[f"fold{fold}"] == "test", "label"]) == {"q1", "q2", "q3", "q4"}


@pytest.mark.parametrize("name", sorted(MIL_MODELS))
def test_every_model_has_a_one_output_head_with_tile_contributions(name):
    torch.manual_seed(0)
    model = build_mil_model(name, 16, 1).eval()
    output, scores = model(torch.randn(30, 16))
    assert output.shape == (1,) and scores["score"].shape == (30,)
    logits, _, aux = model.forward_with_aux(torch.randn(30, 16), None)
    assert logits.shape == (1,) and aux is None


@pytest.mark.parametrize("kind", ["survival", "regression"])
def test_endpoint_training_runs_and_selects_on_the_metric(kind):
    cohort = simulate_endpoint(
        EndpointProblem(TileProblem(n_slides=24, tiles_per_slide=(10, 20), dim=8, signal_dims=2, seed=1), kind=kind)
    )
    bags, slides = Bags.in_memory(cohort.features), cohort.slides()
    params = train_params(epochs=3, patience=2, min_validation_slides=4, device="cpu")
    model, history, scale = train_endpoint_fold(
        "abmil", bags, cohort.targets, slides[:16], slides[16:20], Endpoint(kind, 4, "huber", True), params
    )
    assert history["early_stopping"] and len(history["val_score"]) >= 1 and history["best_epoch"] >= 0
    outputs, tile_scores = predict_endpoint(model, bags, slides[20:], scale, "cpu")
    assert outputs.shape == (4,) and np.isfinite(outputs).all() and len(tile_scores[slides[20]]["score"]) > 0
    assert (scale == (0.0, 1.0)) == (kind == "survival")


@pytest.mark.parametrize("kind", ["survival", "regression"])
def test_covariate_baseline_finds_a_covariate_signal(kind):
    rng = np.random.default_rng(5)
    simple = rng.normal(size=(80, 2))
    if kind == "survival":
        targets = {"time": rng.exponential(1 / np.exp(1.5 * simple[:, 0])), "event": np.ones(80)}
    else:
        targets = {"value": simple[:, 0] + rng.normal(0, 0.3, 80)}
    out = baseline_predictions(kind, simple, rng.normal(size=(80, 6)), targets, np.arange(80) % 4)
    if kind == "survival":
        assert harrell_c(targets["time"], targets["event"], out) > 0.7
    else:
        assert np.corrcoef(out, targets["value"])[0, 1] > 0.8

"""Sites: the sheet's site column, site-preserved cross-validation and its errors, the per-site evaluation."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from helpers import site_sheet_inputs
from slidesnake.core.errors import SiteError
from slidesnake.core.labels import SITE_COLUMN
from slidesnake.demo.plan import site_name
from slidesnake.evaluation.metrics import binary_auc
from slidesnake.evaluation.per_site import SITES, site_entry
from slidesnake.evaluation.report import markdown_report, site_lines
from slidesnake.evaluation.simulation import TileProblem, simulate
from slidesnake.evaluation.splits import TEST, check_no_leakage, check_site_preserved, site_folds
from slidesnake.jobs import splits as splits_job
from slidesnake.workflow.cohort import load_cohort
from slidesnake.workflow.config import default_config
from slidesnake.workflow.sheet import read_sheet


def site_table(n_sites: int, per_site: int = 8, seed: int = 0) -> pd.DataFrame:
    """Slides of `n_sites` sites, half of each site's patients positive, some patients with two slides."""
    rng = np.random.default_rng(seed)
    rows = []
    for site in range(n_sites):
        for k in range(per_site):
            patient = f"p{site}_{k // 2 if k < 4 else k}"
            rows.append(
                {"slide_id": f"s{site}_{k}", "patient_id": patient, SITE_COLUMN: f"site{site}", "label": "ab"[k % 2]}
            )
    table = pd.DataFrame(rows)
    first = table.groupby("patient_id")["label"].transform("first")  # one label per patient
    return table.assign(label=first).sample(frac=1, random_state=int(rng.integers(100))).reset_index(drop=True)


def sites_of_fold(splits: pd.DataFrame, fold: int) -> set[str]:
    return set(splits.loc[splits[f"fold{fold}"] == TEST, SITE_COLUMN])


def test_leave_one_site_out_when_folds_equal_sites():
    table = site_table(3)
    splits = site_folds(table, 3, seed=0)
    check_no_leakage(splits)
    check_site_preserved(splits)
    assert [sites_of_fold(splits, k) for k in range(3)] == [{"site0"}, {"site1"}, {"site2"}]
    for k in range(3):  # a validation part inside every fold's training sites
        assert {"train", "val", "test"} == set(splits[f"fold{k}"])
        assert f"site{k}" not in set(splits.loc[splits[f"fold{k}"] != TEST, SITE_COLUMN])


def test_site_preserved_folds_group_several_sites():
    splits = site_folds(site_table(7), 3, seed=1)
    check_site_preserved(splits)
    per_fold = [sites_of_fold(splits, k) for k in range(3)]
    assert all(per_fold) and set().union(*per_fold) == {f"site{s}" for s in range(7)} and sum(map(len, per_fold)) == 7
    for k in range(3):
        assert set(splits.loc[splits[f"fold{k}"] == TEST, "label"]) == {"a", "b"}
    mixed = splits.copy()
    first = mixed.index[mixed["fold0"] == TEST][0]
    other = mixed.index[(mixed["fold1"] == TEST) & (mixed[SITE_COLUMN] != mixed.loc[first, SITE_COLUMN])][0]
    mixed.loc[other, SITE_COLUMN] = mixed.loc[first, SITE_COLUMN]
    with pytest.raises(AssertionError, match="sites tested in several folds"):
        check_site_preserved(mixed)


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda t: t.assign(**{SITE_COLUMN: t[SITE_COLUMN].where(t.index != 3, None)}), "has no site"),
        (lambda t: t[t[SITE_COLUMN] != "site2"], "needs at least 3 sites; the sheet has 2 .*training.folds to 2"),
        (lambda t: t[~((t[SITE_COLUMN] == "site1") & (t["label"] == "b"))], "site 'site1': no slides of class.*'b'"),
        (lambda t: t.assign(patient_id=t["patient_id"].where(t[SITE_COLUMN] != "site1", "p0_0")), "patient 'p0_0'"),
    ],
)
def test_sites_that_cannot_form_folds_are_named(change, fragment):
    with pytest.raises(SiteError, match=fragment):
        site_folds(change(site_table(3)).reset_index(drop=True), 3, seed=0)


def test_splits_job_keeps_the_site_column_and_follows_split_by(tmp_path):
    table = site_table(4)
    labels, patients, sites = (table.set_index("slide_id")[c].to_dict() for c in ("label", "patient_id", SITE_COLUMN))
    by_site = splits_job.run(labels, patients, 4, 0, tmp_path / "a.csv", sites=sites, split_by="site")
    assert [len(sites_of_fold(by_site, k)) for k in range(4)] == [1, 1, 1, 1]
    by_patient = splits_job.run(labels, patients, 4, 0, tmp_path / "b.csv", sites=sites)
    assert SITE_COLUMN in by_patient and max(len(sites_of_fold(by_patient, k)) for k in range(4)) > 1
    assert SITE_COLUMN not in splits_job.run(labels, patients, 4, 0, tmp_path / "c.csv")
    with pytest.raises(SiteError, match="has no site"):
        splits_job.run(labels, patients, 4, 0, tmp_path / "d.csv", split_by="site")


def test_the_sheet_reads_sites_and_site_splits_name_the_users_sheet(tmp_path):
    by_site = {"split_by": "site", "folds": 2}
    sheet, inputs = site_sheet_inputs(tmp_path, ["A", "A", "B", "B", "", "C"], by_site)
    assert [r.site for r in read_sheet(sheet).values()] == ["A", "A", "B", "B", None, "C"]
    labels = {f"s{i}": "ab"[i % 2] for i in range(6)}
    with pytest.raises(SiteError, match=rf"{sheet}, row 5, column 'site': slide 's4' has no site"):
        inputs.sites("train", "tumor", labels)
    sheet, inputs = site_sheet_inputs(tmp_path, ["A", "A", "B", "B", "C", "C"], by_site)
    with pytest.raises(SiteError, match=rf"{sheet}, column 'site': site 'C': no slides of class"):
        inputs.sites("train", "tumor", {**labels, "s5": "a"})
    assert inputs.sites("train", "tumor", labels)["s4"] == "C"


def test_demo_slides_carry_their_staining_site():
    config = default_config(demo={"n_slides": 8, "sites": 3})
    cohort = load_cohort(config)
    assert {cohort.record(s).site for s in cohort.slides("train")} == {site_name(k) for k in range(3)}


def predictions(rows: list[tuple[str, str, str, int, float]]) -> pd.DataFrame:
    """A binary predictions table from (slide, patient, label, fold, probability of "b") rows."""
    table = pd.DataFrame(rows, columns=["slide_id", "patient_id", "label", "fold", "prob_b"])
    return table.assign(prob_a=1 - table["prob_b"])[["slide_id", "patient_id", "label", "fold", "prob_a", "prob_b"]]


def test_per_site_auc_hand_computed_and_unseen_sites():
    # site A (all tested in fold 0): b's probabilities 0.9, 0.6 against a's 0.7, 0.2: 3 of 4 pairs ranked right.
    # site B (tested in folds 0 and 1): b 0.8 against a 0.3: 1.0; its slides trained the other fold's model
    rows = [
        ("a1", "p1", "b", 0, 0.9),
        ("a2", "p2", "b", 0, 0.6),
        ("a3", "p3", "a", 0, 0.7),
        ("a4", "p4", "a", 0, 0.2),
        ("b1", "p5", "b", 0, 0.8),
        ("b2", "p6", "a", 1, 0.3),
    ]
    sites = {s: s[0].upper() for s, *_ in rows}
    flipped = predictions(rows).assign(prob_b=lambda t: 1 - t["prob_b"], prob_a=lambda t: 1 - t["prob_a"])
    entry = site_entry({"m": predictions(rows), "flipped": flipped}, ["a", "b"], sites)
    a, b = entry["per_site"]["A"], entry["per_site"]["B"]
    assert (a["slides"], a["patients"], a["positive_slides"], a["held_out_fold"]) == (4, 4, 2, 0)
    assert b["held_out_fold"] is None and entry["unseen_sites"] == 1
    assert a["models"]["m"]["auc"] == pytest.approx(0.75) and a["models"]["flipped"]["auc"] == pytest.approx(0.25)
    assert b["models"]["m"]["auc"] == pytest.approx(1.0)
    low, high = a["models"]["m"]["auc_ci"]
    assert 0 <= low <= 0.75 <= high <= 1
    assert entry["mean_unseen_site_auc"] == pytest.approx({"m": 0.75, "flipped": 0.25})
    assert site_entry({"m": predictions(rows)}, ["a", "b"], dict.fromkeys(sites, "A")) is None
    lines = "\n".join(site_lines(entry))
    assert "| A | 4 (2) | 4 | 0 | 0.750 [" in lines and "| B | 2 (1) | 2 | no (seen in training) | 1.000" in lines
    assert "mean over the 1 unseen sites | | | | 0.750 | 0.250 |" in lines
    assert lines in markdown_report({"task": "t", "models": {}, SITES: entry})


def test_binary_auc_equals_roc_auc_with_ties():
    rng = np.random.default_rng(3)
    y, scores = rng.random(60) < 0.4, np.round(rng.random(60), 1)  # many ties
    assert binary_auc(y, scores) == pytest.approx(roc_auc_score(y, scores))


def test_simulated_site_effects_are_shared_by_a_sites_slides():
    small = dict(n_slides=12, tiles_per_slide=(30, 40), dim=32, signal_dims=4, slide_sd=0.0, seed=2)
    plain = simulate(TileProblem(**small))
    sited = simulate(TileProblem(**small, sites=3, site_sd=2.0))
    assert set(sited.site.values()) == {0, 1, 2} and set(plain.site.values()) == {0}
    assert sited.labels == plain.labels
    negative = [s for s in sited.slides() if not sited.labels[s]]  # no tumor shift (whose size the sites change)
    offsets = {s: sited.features[s].mean(0) - plain.features[s].mean(0) for s in negative}
    for slide, offset in offsets.items():  # every slide of a site moved by its site's offset, exactly
        first = next(s for s in negative if sited.site[s] == sited.site[slide])
        assert np.allclose(offset, offsets[first], atol=1e-4)
    assert len({sited.site[s] for s in negative}) > 1
    assert max(np.abs(o - offsets[negative[0]]).max() for o in offsets.values()) > 1

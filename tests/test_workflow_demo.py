"""The demo cohort end to end through the workflow, small enough for CI (about two minutes on 2 cores)."""

import json
import re

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import TEST_CONFIGS, config_arg, run_snakemake
from slidesnake.core.labels import SITE_COLUMN
from slidesnake.demo.plan import site_name
from slidesnake.evaluation.calibration import YOUDEN, platt_apply, platt_fit, youden_threshold
from slidesnake.io.predictions import called_column
from slidesnake.io.tile_scores import MIL_SCORE, score_kind
from viewer_check import check_viewer_in_browser

pytestmark = pytest.mark.workflow
CONFIG = config_arg("demo_small")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("demo_run")
    # `review` (the QuPath project) rides on the run: one light job more
    result = run_snakemake(workdir, CONFIG, "all", "review", timeout=2400)  # a guard against a hang, not a timing test
    return workdir, result


def test_every_stage_wrote_every_slide(demo_run):
    workdir, _ = demo_run
    sheet = pd.read_csv(workdir / "resources/demo/samples.tsv", sep="\t")
    assert len(sheet) == 8 and set(sheet["label"]) == {"tumor", "normal"}
    assert set(sheet[SITE_COLUMN]) == {site_name(0)}  # the demo's one staining site (demo.sites)
    for slide in sheet["slide_id"]:
        for path in (
            f"results/slides/{slide}.tiff",
            f"results/masks/{slide}.png",
            f"results/masks/{slide}.geojson",
            f"results/masks/{slide}_qc.jpg",
            f"results/tiles/{slide}.h5",
            f"results/tiles/{slide}_qc.jpg",
            f"results/tiles/{slide}_artefacts.jpg",
            f"results/tiles/{slide}_artefacts.geojson",
            f"results/features/resnet18/{slide}.h5",
            f"resources/demo/{slide}_truth_overview.jpg",
        ):
            assert (workdir / path).stat().st_size > 0, path
        with (
            h5py.File(workdir / f"results/tiles/{slide}.h5") as tiles,
            h5py.File(workdir / f"results/features/resnet18/{slide}.h5") as features,
        ):
            assert features["features"].shape == (len(tiles["coords"]), 512)
            assert "annotation_fraction" in tiles
            assert tiles["qc_focus"].shape == (len(tiles["coords"]),) and "dropped" in tiles  # the artefact QC
    assert (workdir / "results/logs/tissue_mask").is_dir() and (workdir / "results/benchmarks/tile_slide").is_dir()


def test_the_artefact_qc_keeps_the_demo_tissue(demo_run):
    workdir, _ = demo_run
    table = pd.read_csv(workdir / "results/qc/train.tsv", sep="\t")
    assert (table["status"] == "ok").all() and (table["artefact_share"] < 0.2).all(), table
    assert table["dropped_tiles"].sum() < 0.05 * (table["n_tiles"] + table["dropped_tiles"]).sum()


def test_training_and_evaluation_outputs(demo_run):
    workdir, _ = demo_run
    for model in ("mean_pool", "max_pool", "abmil", "clam_sb", "transmil"):
        for fold in range(2):
            folder = workdir / f"results/models/tumor/{model}/fold{fold}"
            metrics = json.loads((folder / "metrics.json").read_text())
            assert metrics["model"] == model and len(metrics["history"]["train_loss"]) >= 1
            assert (folder / "predictions.csv").exists() and (folder / "tile_scores.h5").exists()
    splits = pd.read_csv(workdir / "results/splits/tumor.csv")
    assert set(splits["fold0"]) == {"train", "val", "test"}
    report = json.loads((workdir / "results/evaluation/tumor.json").read_text())
    assert set(report["models"]) == {"mean_pool", "max_pool", "abmil", "clam_sb", "transmil"}
    assert report["pu"]["prior"]["mean_estimated_prior"] > 0
    mask = report["pu"]["mask"]  # the demo has truth: the PU tumor masks are scored against it
    assert (
        mask["slides"] == (splits["label"] == "tumor").sum()
        and 0 <= mask["dice_mean"] <= 1
        and mask["iou_mean"] <= mask["dice_mean"]
    )
    assert all(0 < f["tumor_mask_threshold"] < 1 for f in report["pu"]["prior"]["folds"])
    assert "Tumor masks" in (workdir / "results/evaluation/tumor.md").read_text()
    assert "slide AUC" in (workdir / "results/evaluation/tumor.md").read_text()
    assert "Platt scaling" in (workdir / "results/evaluation/tumor.md").read_text()
    assert report["sites"] is None  # one staining site: no per-site table


def test_the_review_project_holds_every_slide_layer_and_class(demo_run):
    from helpers import check_qupath_project
    from slidesnake.core.labels import MIL_TUMOR_CLASS, PROPOSED_CLASS, PU_TUMOR_CLASS, TISSUE_CLASS, TUMOR_CLASS

    workdir, _ = demo_run
    sheet = pd.read_csv(workdir / "resources/demo/samples.tsv", sep="\t")
    slides = {s: workdir / f"results/slides/{s}.tiff" for s in [*sheet["slide_id"], "new_000", "new_001"]}
    tumor = sheet.loc[sheet["label"] == "tumor", "slide_id"]
    training = {"pu_tumor": PU_TUMOR_CLASS, "proposed": PROPOSED_CLASS}  # new slides: tissue and MIL only
    extra = {s: {**training, **({"annotation": TUMOR_CLASS} if s in set(tumor) else {})} for s in sheet["slide_id"]}
    counts = check_qupath_project(
        workdir / "results/review", slides, {"tissue": TISSUE_CLASS, "mil_tumor": MIL_TUMOR_CLASS}, extra
    )
    assert counts["tissue"] >= len(slides) and counts["annotation"] >= len(tumor) and counts["pu_tumor"] >= 1
    assert counts["proposed"] == 20  # review.regions_per_round, on the tumor slides
    proposals = pd.read_csv(workdir / "results/review/proposals.tsv", sep="\t")
    assert len(proposals) == 20 and set(proposals["slide_id"]) <= set(tumor)


def test_nothing_left_to_do_after_a_run(demo_run):
    workdir, _ = demo_run
    result = run_snakemake(workdir, CONFIG, "all", "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_figures_are_readable_images(demo_run):
    import cv2

    workdir, _ = demo_run
    sheet = pd.read_csv(workdir / "resources/demo/samples.tsv", sep="\t")
    paths = [
        workdir / f"results/figures/tumor/{n}.png"
        for n in ("roc", "confusion", "reliability", "training_curves", "tiles_per_slide", "tissue_area")
    ]
    for source in ("abmil", "pu"):
        for slide in sheet["slide_id"]:
            paths += [
                workdir / f"results/figures/tumor/heatmaps/{source}/{slide}.jpg",
                workdir / f"results/figures/tumor/heatmaps/{source}/{slide}_top_tiles.jpg",
            ]
            regions = json.loads((workdir / f"results/figures/tumor/heatmaps/{source}/{slide}.geojson").read_text())
            assert regions["type"] == "FeatureCollection"
    for slide in sheet["slide_id"]:  # PU tumor masks: a label image of the tile grid and its QuPath outline
        mask = cv2.imread(
            str(workdir / f"results/figures/tumor/heatmaps/pu/{slide}_tumor_mask.png"), cv2.IMREAD_UNCHANGED
        )
        assert mask.ndim == 2 and set(np.unique(mask)) <= {0, 1, 2} and (mask > 0).any()
        outline = json.loads((workdir / f"results/figures/tumor/heatmaps/pu/{slide}_tumor_mask.geojson").read_text())
        assert outline["type"] == "FeatureCollection"
        assert all(f["properties"]["classification"]["name"] == "Tumor" for f in outline["features"])
    for slide in ("new_000", "new_001"):  # the fold ensemble's attention on the new, unlabelled slides
        paths += [
            workdir / f"results/figures/tumor/heatmaps/new_abmil/{slide}.jpg",
            workdir / f"results/figures/tumor/heatmaps/new_abmil/{slide}_top_tiles.jpg",
        ]
    paths += [workdir / "results/figures/umap/resnet18/scatter.png"]
    paths += [workdir / f"results/figures/umap/resnet18/rgb/{s}.jpg" for s in sheet["slide_id"]]
    for path in paths:
        image = cv2.imread(str(path))
        assert image is not None and image.std() > 5, path
    versions = pd.read_csv(workdir / "results/versions.tsv", sep="\t")
    assert {"slidesnake", "torch", "snakemake"} <= set(versions["component"])


def test_predictions_out_of_fold_and_on_new_unlabelled_slides(demo_run):
    workdir, _ = demo_run
    oof = pd.read_csv(workdir / "results/predictions/tumor/abmil_oof.csv")
    assert len(oof) == 8 and set(oof["label"]) == {"normal", "tumor"}
    patients = pd.read_csv(workdir / "results/predictions/tumor/abmil_oof_patients.csv")
    assert patients["n_slides"].sum() == 8 and set(patients["prediction"]) <= {"normal", "tumor"}
    new = pd.read_csv(workdir / "results/predictions/tumor/abmil_new.csv")
    assert list(new["slide_id"]) == ["new_000", "new_001"] and "label" not in new
    assert {"fold0_prob_tumor", "fold1_prob_tumor"} <= set(new.columns)
    assert (new["prob_tumor"] - new[["fold0_prob_tumor", "fold1_prob_tumor"]].mean(axis=1)).abs().max() < 1e-6
    cohort_map = platt_fit((oof["label"] == "tumor").to_numpy(), oof["prob_tumor"].to_numpy())  # all OOF slides
    assert np.allclose(new["calibrated_prob_tumor"], platt_apply(cohort_map, new["prob_tumor"].to_numpy()))
    youden = youden_threshold((oof["label"] == "tumor").to_numpy(), oof["prob_tumor"].to_numpy())
    assert list(new[called_column("tumor", YOUDEN)]) == list((new["prob_tumor"] >= youden).astype(int))
    with h5py.File(workdir / "results/predictions/tumor/abmil_new_tile_scores.h5") as h5:
        assert set(h5) == {"new_000", "new_001"} and len(h5["new_000/score"]) == len(h5["new_000/coords"])
    # the new slides went through masks, tiles and features like any slide, and are not in training
    splits = pd.read_csv(workdir / "results/splits/tumor.csv")
    assert not set(splits["slide_id"]) & {"new_000", "new_001"}


def test_viewer_shows_the_tumor_heatmap_on_the_truth_tumor_in_chromium(demo_run, tmp_path):
    """The viewer (python -m slidesnake.view) on the demo results in headless Chromium: zoomed into a tumor slide's
    tumor, the PU heatmap's hot pixels lie on the truth mask's tumor, the opacity slider changes the overlay, and the
    slide list shows each slide's prediction."""
    workdir, _ = demo_run
    check_viewer_in_browser(workdir / "results", tmp_path)


def test_survival_and_regression_tasks(demo_run):
    """The survival and regression tasks of the demo (ABMIL only): event-stratified splits with the targets,
    out-of-fold risks and values, the C-index and R² with intervals beside the covariate baseline, the
    Kaplan-Meier figure and the scatter, risk heatmaps and the fold ensemble on the new slides."""
    import cv2

    workdir, _ = demo_run
    splits = pd.read_csv(workdir / "results/splits/survival.csv")
    assert {"time", "event"} <= set(splits.columns) and set(splits["label"]) <= {"event", "censored"}
    survival = json.loads((workdir / "results/evaluation/survival.json").read_text())
    entry = survival["models"]["abmil"]
    assert survival["type"] == "survival" and set(survival["models"]) == {"abmil"} and entry["n"] == 8
    assert (
        0 <= entry["c_index"] <= 1 and "median" in entry["risk_groups"] and survival["baseline"]["c_index"] is not None
    )
    assert "C-index" in (workdir / "results/evaluation/survival.md").read_text()
    burden = json.loads((workdir / "results/evaluation/burden.json").read_text())
    assert burden["type"] == "regression" and burden["models"]["abmil"]["mae"] >= 0 and "r2" in burden["baseline"]
    oof = pd.read_csv(workdir / "results/predictions/survival/abmil_oof.csv")
    assert len(oof) == 8 and {"risk", "time", "event", "fold"} <= set(oof.columns)
    values = pd.read_csv(workdir / "results/predictions/burden/abmil_oof_patients.csv")
    assert {"predicted_value", "value"} <= set(values.columns) and values["n_slides"].sum() == 8
    new = pd.read_csv(workdir / "results/predictions/survival/abmil_new.csv")
    assert list(new["slide_id"]) == ["new_000", "new_001"] and {"risk", "fold0_risk", "fold1_risk"} <= set(new)
    assert (new["risk"] - new[["fold0_risk", "fold1_risk"]].mean(axis=1)).abs().max() < 1e-6
    paths = [workdir / "results/figures/survival/kaplan_meier.png", workdir / "results/figures/burden/scatter.png"]
    for task in ("survival", "burden"):
        paths += [
            workdir / f"results/figures/{task}/heatmaps/abmil/demo_000.jpg",
            workdir / f"results/figures/{task}/heatmaps/new_abmil/new_000.jpg",
        ]
        assert not (workdir / f"results/figures/{task}/roc.png").exists()
    for path in paths:
        image = cv2.imread(str(path))
        assert image is not None and image.std() > 5, path
    kind = score_kind(workdir / "results/models/survival/abmil/fold0/tile_scores.h5", MIL_SCORE)
    assert kind.startswith("tile risk")


def test_changed_survival_columns_rerun_only_the_survival_task(demo_run):
    """Pointing the survival task at the demo's progression-free columns reruns its splits, its two folds and what
    follows from them; the classification and regression tasks stay done (a dry run)."""
    workdir, _ = demo_run
    changed = workdir / "pfs.yaml"
    config = yaml.safe_load((TEST_CONFIGS / "demo_small" / "config.yaml").read_text())
    config["tasks"]["survival"].update(time_column="progression_months", event_column="progression")
    changed.write_text(yaml.safe_dump(config))
    result = run_snakemake(workdir, f"--configfile={changed}", "all", "-n")
    out = result.stdout + result.stderr
    table = out.split("Job stats:", 1)[1].split("total", 1)[0]
    jobs = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "job"}
    jobs.pop("all", None)
    assert jobs == {
        "splits": 1,
        "train_mil": 2,
        "evaluate": 1,
        "oof_predictions": 1,
        "deploy_predictions": 1,
        "endpoint_figures": 1,
        "heatmaps": 2,
    }, jobs
    assert "wildcards: task=survival" in out and "task=burden" not in out and "task=tumor" not in out


def test_corrections_from_qupath_rerun_exactly_pu_and_what_follows(demo_run, tmp_path):
    """A round trip through the review project: one tumor slide's annotation layer, exported back with a Benign
    tile added, as review.corrections. Dry runs: every training slide's merge, PU and what reads PU's scores, and
    nothing upstream (no tiling, no features) nor MIL (instance_weight 0: MIL reads no annotation); after the merges
    ran, editing the one file reruns its merge only, and the user's annotation mask is untouched."""
    import hashlib

    from slidesnake.io.tile_file import TileFile

    workdir, _ = demo_run
    sheet = pd.read_csv(workdir / "resources/demo/samples.tsv", sep="\t")
    slide = sheet.loc[sheet["label"] == "tumor", "slide_id"].iloc[0]
    tiles = TileFile.read(workdir / f"results/tiles/{slide}.h5")
    x, y = (int(v) for v in tiles.coords[tiles.annotated_tumor() == 0][0])
    ring = [[x, y], [x + tiles.size0, y], [x + tiles.size0, y + tiles.size0], [x, y + tiles.size0], [x, y]]
    benign = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"objectType": "annotation", "classification": {"name": "Benign", "color": [0, 160, 60]}},
    }
    exported = json.loads((workdir / f"results/review/layers/{slide}/annotation.geojson").read_text())
    folder = tmp_path / "corrections"
    folder.mkdir()
    corrections = folder / f"{slide}.geojson"
    corrections.write_text(json.dumps({**exported, "features": [benign, *exported["features"]]}))
    config = yaml.safe_load((TEST_CONFIGS / "demo_small" / "config.yaml").read_text())
    config["review"] = {"corrections": str(folder)}
    changed = tmp_path / "corrected.yaml"
    changed.write_text(yaml.safe_dump(config))

    def planned(*targets):
        out = run_snakemake(workdir, f"--configfile={changed}", *targets, "-n").stdout
        table = out.split("Job stats:", 1)[1].split("total", 1)[0]
        jobs = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}
        return {k: v for k, v in jobs.items() if k not in ("job", "all")}

    annotation = workdir / f"results/annotations/{slide}.png"
    before = hashlib.md5(annotation.read_bytes()).hexdigest()
    jobs = planned("all")
    assert jobs["merge_corrections"] == len(sheet) and jobs["train_pu"] == 1, jobs
    upstream = {"tissue_mask", "tile_slide", "extract_features", "collect_features", "feature_manifest", "train_mil"}
    assert not upstream & set(jobs), jobs
    assert set(jobs) <= {"merge_corrections", "train_pu", "evaluate", "heatmaps", "umap"}, jobs
    merged = [f"results/corrections/{s}.h5" for s in sheet["slide_id"]]
    run_snakemake(workdir, f"--configfile={changed}", *merged)
    corrections.write_text(json.dumps({**exported, "features": [benign]}))  # the pathologist edits one slide again
    again = planned("all")
    assert again["merge_corrections"] == 1 and again["train_pu"] == 1, again
    assert hashlib.md5(annotation.read_bytes()).hexdigest() == before
    assert (workdir / f"results/corrections/{slide}.png").exists()

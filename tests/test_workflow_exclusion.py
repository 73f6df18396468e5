"""Exclusion instead of blocking, end to end: a labelled cohort of small demo slides plus a truncated file, a
slide without mpp, one without tissue and one out of focus (the artefact gate of the tiling job) trains and
evaluates on the others (no --keep-going), names the four in the QC table and the evaluation; qc.strict fails
instead; fixing a slide brings it back."""

import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import TCGA, require_shared_data, run_snakemake, write_small_slide
from slidesnake.io.exclusion import EXCLUDED, OK
from slidesnake.io.pyramid_tiff import write_single_level
from slidesnake.io.slide import Slide

pytestmark = pytest.mark.workflow

GOOD = [(f"t{i}", "tumor") for i in range(3)] + [(f"n{i}", "normal") for i in range(3)]
BAD = {"truncated": "tumor", "nompp": "normal", "blank": "normal", "blurred": "tumor"}  # slide -> label
REASONS = {
    "truncated": "OpenSlide cannot",
    "nompp": "microns-per-pixel",
    "blank": "no tissue found",
    "blurred": "is artefacts (blur 100%)",
}
STAGES = {**dict.fromkeys(BAD, "tissue_mask"), "blurred": "tile_slide"}
CONFIG = {
    "samples": "samples.tsv",
    "tiling": {"tile_px": 256},
    "features": {"encoders": {"resnet18": {"weights": "random"}}, "num_workers": 0, "slides_per_job": 3},
    "training": {"folds": 2, "epochs": 2, "patience": 2, "models": ["mean_pool"]},
    "pu": {"enabled": False},
    "figures": {"heatmap_sources": ["mean_pool"]},
}


def make_cohort(folder: Path, strict: bool = False) -> dict[str, Path]:
    """Slides, sheet and config in `folder` (the bad slides between the good ones, so that they share shards)."""
    data = folder / "data"
    data.mkdir(parents=True)
    files = {}
    for seed, (slide, label) in enumerate(GOOD):
        made = write_small_slide(data, slide_id=slide, label=label, seed=seed, width=3072, height=3072)
        files[slide] = made["slide"]
    files["truncated"] = data / "truncated.tiff"
    files["truncated"].write_bytes(files["t0"].read_bytes()[:20_000])
    files["nompp"] = data / "nompp.svs"
    shutil.copyfile(TCGA, files["nompp"])
    files["blank"] = data / "blank.tiff"
    write_single_level(files["blank"], np.full((2048, 2048, 3), 250, np.uint8), 0.5)
    files["blurred"] = data / "blurred.tiff"
    with Slide(files["t1"]) as slide:  # a good slide scanned out of focus
        write_single_level(files["blurred"], cv2.GaussianBlur(slide.read_downsampled(1.0), (0, 0), 3.0), 0.5)
    order = ["t0", "truncated", "n0", "t1", "nompp", "n1", "t2", "blank", "n2", "blurred"]
    labels = {**dict(GOOD), **BAD}
    pd.DataFrame(
        [{"slide_id": s, "source": str(files[s]), "label": labels[s], "patient_id": f"P{s}"} for s in order]
    ).to_csv(folder / "samples.tsv", sep="\t", index=False)
    (folder / "config").mkdir()
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump({**CONFIG, "qc": {"strict": strict}}))
    return files


def qc_rows(workdir: Path) -> dict[str, dict]:
    table = pd.read_csv(workdir / "results/qc/train.tsv", sep="\t", dtype=str, keep_default_na=False)
    return {row["slide_id"]: row for row in table.to_dict("records")}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    require_shared_data()
    workdir = tmp_path_factory.mktemp("exclusion")
    files = make_cohort(workdir)
    result = run_snakemake(workdir, "train", "predict")  # no --keep-going: it must finish
    return workdir, files, result.stdout + result.stderr


def test_the_cohort_trains_on_the_slides_that_passed(finished):
    workdir, files, _ = finished
    oof = pd.read_csv(workdir / "results/predictions/tumor/mean_pool_oof.csv")
    assert sorted(oof["slide_id"]) == sorted(s for s, _ in GOOD)
    splits = pd.read_csv(workdir / "results/splits/tumor.csv")
    assert set(BAD) <= set(splits["slide_id"])  # the splits stay those of the sample sheet


def test_the_qc_table_names_the_excluded_slides_with_reasons(finished):
    workdir, files, _ = finished
    rows = qc_rows(workdir)
    assert set(rows) == {s for s, _ in GOOD} | set(BAD)
    for slide, _ in GOOD:
        assert rows[slide]["status"] == OK and int(rows[slide]["n_tiles"]) >= 16 and rows[slide]["reason"] == ""
        assert rows[slide]["source"] == str(files[slide]) and float(rows[slide]["tissue_area_mm2"]) > 0
    for slide, reason in REASONS.items():
        row = rows[slide]
        assert row["status"] == EXCLUDED and row["stage"] == STAGES[slide] and reason in row["reason"], row
        assert row["source"] == str(files[slide]) and row["n_tiles"] == "0"
    assert "scale_ratio" in rows["t0"]
    assert float(rows["blurred"]["artefact_share"]) == 1.0 and float(rows["blurred"]["blur_share"]) == 1.0
    for slide, _ in GOOD:  # the artefact QC measured the good slides and kept their clean tissue
        assert float(rows[slide]["artefact_share"]) < 0.1 and float(rows[slide]["median_focus"]) > 1.2, rows[slide]
        assert (workdir / f"results/tiles/{slide}_artefacts.jpg").stat().st_size > 0
        assert (
            json.loads((workdir / f"results/tiles/{slide}_artefacts.geojson").read_text())["type"]
            == "FeatureCollection"
        )


def test_the_evaluation_lists_the_excluded_slides_per_class(finished):
    workdir, _, _ = finished
    report = json.loads((workdir / "results/evaluation/tumor.json").read_text())
    assert report["excluded"]["per_class"] == {
        "normal": {"slides": 5, "excluded": 2},
        "tumor": {"slides": 5, "excluded": 2},
    }
    listed = {e["slide_id"]: e for e in report["excluded"]["slides"]}
    assert set(listed) == set(BAD) and all(REASONS[s] in listed[s]["reason"] for s in BAD)
    markdown = (workdir / "results/evaluation/tumor.md").read_text()
    assert "Excluded slides" in markdown and "normal 2 of 5, tumor 2 of 5" in markdown
    for slide in BAD:
        assert f"| {slide} | {BAD[slide]} | {STAGES[slide]} |" in markdown


def test_the_log_warns_naming_slide_reason_and_file(finished):
    workdir, files, _ = finished
    log = (workdir / "results/logs/tissue_mask/nompp.log").read_text()
    assert "slide 'nompp' excluded at tissue_mask" in log and str(files["nompp"]) in log


def planned_jobs(workdir: Path, *targets: str) -> dict[str, int]:
    result = run_snakemake(workdir, "-n", *targets)
    out = result.stdout + result.stderr
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "job"}


def test_fixing_a_slide_reruns_it_and_the_cohort_only(finished, tmp_path):
    workdir, files, _ = finished
    assert planned_jobs(workdir, "train", "predict") == {}
    fixed = write_small_slide(tmp_path, slide_id="truncated", label="tumor", seed=11, width=3072, height=3072)
    shutil.copyfile(fixed["slide"], files["truncated"])  # the user replaces the broken file
    planned = planned_jobs(workdir, "train", "predict")
    assert planned["fetch_slide"] == planned["tissue_mask"] == planned["tile_slide"] == 1, planned
    assert planned["extract_features"] == 1  # its own shard only
    for rule in ("slide_manifest", "feature_manifest", "qc_table", "train_mil", "evaluate", "oof_predictions"):
        assert planned.get(rule), (rule, planned)
    run_snakemake(workdir, "train", "predict")
    assert qc_rows(workdir)["truncated"]["status"] == OK
    oof = pd.read_csv(workdir / "results/predictions/tumor/mean_pool_oof.csv")
    assert "truncated" in set(oof["slide_id"])


def test_strict_stops_at_the_first_unpreparable_slide(tmp_path):
    require_shared_data()
    make_cohort(tmp_path, strict=True)
    result = run_snakemake(tmp_path, "train", "predict", check=False)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert any(f"slide '{slide}'" in out and REASONS[slide] in out for slide in BAD), out[-3000:]
    assert not (tmp_path / "results/models").exists() and not (tmp_path / "results/qc").exists()

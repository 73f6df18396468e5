"""Snakemake reruns exactly what a change affects: one knob at a time, checked with --dry-run."""

import os
import re
import shutil

import h5py
import pytest

from helpers import REPO, TEST_CONFIGS, run_snakemake

pytestmark = pytest.mark.workflow

BASE = (TEST_CONFIGS / "rerun" / "config.yaml").read_text()
DEMO = {"demo_slide", "demo_cohort", "fetch_slide", "fetch_annotation"}
DOWNSTREAM_OF_TILES = {
    "tile_slide",
    "extract_features",
    "collect_features",
    "slide_manifest",
    "feature_manifest",
    "qc_table",
    "train_mil",
    "train_pu",
    "evaluate",
    "oof_predictions",
    "heatmaps",
    "cohort_figures",
    "umap",
}


def copy_workflow(dest):
    for item in ("Snakefile", "rules", "scripts", "src", "envs", "config", "report"):
        source = REPO / item
        (shutil.copytree if source.is_dir() else shutil.copy)(source, dest / item)
    return dest


def planned_jobs(workdir, config_text=None) -> dict[str, int]:
    """Rule -> job count of a dry run (nothing when up to date)."""
    args = ["-n", "all"]
    if config_text is not None:
        (workdir / "changed.yaml").write_text(config_text)
        args.append(f"--configfile={workdir / 'changed.yaml'}")
    result = run_snakemake(workdir, *args, snakefile=workdir / "Snakefile")
    out = result.stdout + result.stderr
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:", 1)[1].split("total", 1)[0]
    return {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)
        if m.group(1) not in ("job", "all")
    }


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("rerun"))
    (workdir / "config" / "config.yaml").write_text(BASE)
    run_snakemake(workdir, "all", snakefile=workdir / "Snakefile")
    return workdir


def test_unchanged_rerun_does_nothing(finished_run):
    assert planned_jobs(finished_run) == {}


def test_tiling_parameter_reruns_tiling_and_downstream_only(finished_run):
    jobs = planned_jobs(finished_run, BASE + "tiling: {tile_px: 256, min_tissue: 0.4}\n")
    assert set(jobs) == DOWNSTREAM_OF_TILES and jobs["tile_slide"] == 6
    assert not jobs.keys() & (DEMO | {"tissue_mask", "splits"})


def test_one_slides_new_tiles_rerun_its_features_and_the_training(finished_run):
    """A changed tile file: that slide's features, the manifests and everything trained on them rerun; no
    other slide's features or tiles. (Snakemake compares small inputs by checksum, so the content changes.)"""
    tiles = finished_run / "results" / "tiles" / "demo_000.h5"
    original, stat = tiles.read_bytes(), tiles.stat()
    try:
        with h5py.File(tiles, "a") as h5:
            h5.attrs["edited"] = 1
        jobs = planned_jobs(finished_run)
        # one slide per feature job here (features.slides_per_job: 1): exactly that slide is encoded again
        assert jobs["extract_features"] == 1 and jobs["collect_features"] == 1 and jobs["feature_manifest"] == 1
        assert jobs["train_mil"] == 4
        assert {"slide_manifest", "train_pu", "evaluate", "heatmaps", "umap"} <= set(jobs)
        assert not jobs.keys() & (DEMO | {"tissue_mask", "tile_slide", "splits"})
    finally:
        tiles.write_bytes(original)
        os.utime(tiles, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert planned_jobs(finished_run) == {}


def test_mask_parameter_reruns_masks_and_downstream(finished_run):
    jobs = planned_jobs(finished_run, BASE + "mask: {closing_um: 80}\n")
    assert set(jobs) == {"tissue_mask"} | DOWNSTREAM_OF_TILES and not jobs.keys() & DEMO


def test_training_parameter_reruns_training_only(finished_run):
    jobs = planned_jobs(finished_run, BASE.replace("epochs: 2, patience", "epochs: 3, patience"))
    assert set(jobs) == {"train_mil", "evaluate", "oof_predictions", "heatmaps", "cohort_figures"}
    assert jobs["train_mil"] == 4 and jobs["heatmaps"] == 1  # the ABMIL heatmaps; PU is not retrained


def test_figure_colour_map_reruns_heatmaps_only(finished_run):
    assert planned_jobs(finished_run, BASE + "figures: {cmap: viridis}\n") == {"heatmaps": 2}


def test_demo_parameter_reruns_everything(finished_run):
    jobs = planned_jobs(finished_run, BASE.replace("seed: 3", "seed: 4"))
    assert {"demo_slide", "tissue_mask", "tile_slide", "extract_features", "train_mil"} <= set(jobs)


def test_edited_script_reruns_its_rule(finished_run):
    """Snakemake triggers script rules by the script's mtime; restoring text and mtime undoes it."""
    script = finished_run / "scripts" / "tissue_mask.py"
    original, stat = script.read_text(), script.stat()
    try:
        script.write_text(original + "\n# edited\n")
        jobs = planned_jobs(finished_run)
        assert jobs.get("tissue_mask") == 6 and not jobs.keys() & DEMO
    finally:
        script.write_text(original)
        os.utime(script, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert planned_jobs(finished_run) == {}


def test_stain_reference_reruns_exactly_the_features_normalised_to_it(finished_run):
    """A stain-normalised encoder adds its reference, QC grid and features, nothing else; a change to the
    reference then reruns exactly those (not the plain encoder's features, nor the training on them).
    Last in this module: it leaves the extra encoder's files behind."""
    plain = "encoders: {resnet18: {weights: random}}"
    with_stain = BASE.replace(
        plain, plain[:-1] + ", resnet18_macenko: {model: resnet18, weights: random, stain: macenko}}"
    )
    assert with_stain != BASE
    jobs = planned_jobs(finished_run, with_stain)
    assert jobs == {"stain_reference": 1, "stain_qc": 1, "extract_features": 6, "collect_features": 6}
    run_snakemake(
        finished_run, "all", f"--configfile={finished_run / 'changed.yaml'}", snakefile=finished_run / "Snakefile"
    )
    assert planned_jobs(finished_run, with_stain) == {}
    jobs = planned_jobs(finished_run, with_stain + "stain: {tiles_per_slide: 8}\n")
    assert jobs == {"stain_reference": 1, "stain_qc": 1, "extract_features": 6, "collect_features": 6}

"""Helpers the tests import: repository paths, the real test slides, parameter objects with schema defaults,
small generated demo slides, tiling a slide and running Snakemake (the fixtures are in conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from slidesnake.features.params import FeatureParams
from slidesnake.figures.params import HeatmapParams
from slidesnake.mil.params import TrainParams
from slidesnake.pu.params import PUParams
from slidesnake.tissue.params import MaskParams, TilingParams
from slidesnake.workflow.config import default_config, default_params

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CMU = SHARED_DATA / "CMU-1-Small-Region.svs"
TCGA = SHARED_DATA / "TCGA-CR-7395-01A-01-TS1.svs"


TEST_CONFIGS = REPO / ".test"


def config_arg(name: str) -> str:
    """`--configfile=...` argument for one of the .test/ configurations (the `=` keeps targets apart)."""
    return f"--configfile={TEST_CONFIGS / name / 'config.yaml'}"


def package_env() -> dict:
    """Environment for a Python subprocess that imports the workflow's package (from src/, as jobs do)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}


def run_at_sizes(script: str, sizes, tmp_path) -> dict:
    """Run a measuring `script` (argv: size, folder) in a fresh process per size; the JSON of its last printed
    line per size (peak-memory tests: each process's maximum RSS is its own)."""
    results = {}
    for size in sizes:
        folder = tmp_path / str(size)
        folder.mkdir()
        out = subprocess.run(
            [sys.executable, "-c", script, str(size), str(folder)],
            env=package_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        results[size] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def mask_params(**changes) -> MaskParams:
    """The schema's default mask parameters with some changed (tests never restate defaults)."""
    return default_params(MaskParams, "mask", **changes)


def tiling_params(**changes) -> TilingParams:
    return default_params(TilingParams, "tiling", **changes)


def feature_params(**changes) -> FeatureParams:
    return default_params(FeatureParams, "features", **{"model": "resnet18", "weights": "random", **changes})


def train_params(**changes) -> TrainParams:
    return default_params(TrainParams, "training", **changes)


def heatmap_params(**changes) -> HeatmapParams:
    return default_params(HeatmapParams, "figures", **changes)


def pu_params(**changes) -> PUParams:
    return default_params(PUParams, "pu", **changes)


def require_shared_data():
    if not CMU.exists() or not TCGA.exists():
        pytest.skip(f"real test slides not found in {SHARED_DATA}")


def demo_config(**changes) -> dict:
    """The config's demo section (schema defaults), some values changed."""
    from slidesnake.workflow.config import default_config

    return {**default_config()["demo"], **changes}


def small_plan(slide_id="demo_test", label="tumor", width=4096, height=3584, seed=7, **changes):
    from slidesnake.demo.plan import plan_cohort

    plan = next(p for p in plan_cohort(demo_config(seed=seed), 8) if p.label == label)
    return replace(
        plan, slide_id=slide_id, width=width, height=height, tumor_fraction=0.3 if label == "tumor" else 0.0, **changes
    )


def write_small_slide(folder: Path, **plan_changes) -> dict:
    from slidesnake.demo.cohort import write_demo_slide

    plan = small_plan(**plan_changes)
    paths = {
        k: folder / f"{plan.slide_id}{suffix}"
        for k, suffix in (
            ("slide", ".tiff"),
            ("truth", "_truth.png"),
            ("annotation", "_annotation.png"),
            ("stats", ".json"),
        )
    }
    stats = write_demo_slide(plan, paths["slide"], paths["truth"], paths["annotation"], paths["stats"])
    return {**paths, "plan": plan, "stats": stats}


def prepare_slide(
    slide_path,
    folder,
    name="s",
    sheet_mpp=None,
    tiling=None,
    mask=None,
    annotation=None,
    qc=None,
    min_tiles=0,
    source="",
    artefacts=None,
) -> dict[str, Path]:
    """Run the tissue_mask and tile_slide jobs on one slide as the rules do (with `qc`: the scale check and
    exclusion unless qc.strict; `source`: the sheet's file the exclusion names; `artefacts`: ArtefactParams, the
    artefact QC, with its picture and GeoJSON); returns their output files."""
    from slidesnake.jobs import tile_slide, tissue_mask

    files = {
        k: Path(folder) / f"{name}{suffix}"
        for k, suffix in (
            ("mask", ".png"),
            ("info", ".json"),
            ("geojson", ".geojson"),
            ("thumbnail", "_thumbnail.jpg"),
            ("qc", "_qc.jpg"),
            ("tiles", ".h5"),
            ("tiles_qc", "_tiles_qc.jpg"),
            ("artefacts", "_artefacts.jpg"),
            ("artefact_geojson", "_artefacts.geojson"),
        )
    }
    tissue_mask.run(
        slide_path,
        name,
        sheet_mpp,
        None,
        mask or mask_params(),
        files["mask"],
        files["info"],
        files["geojson"],
        files["thumbnail"],
        files["qc"],
        qc,
        source or None,
    )
    tile_slide.run(
        name,
        files["mask"],
        files["info"],
        files["thumbnail"],
        annotation,
        tiling or tiling_params(tile_px=256),
        files["tiles"],
        files["tiles_qc"],
        min_tiles,
        True if qc is None else qc.strict,
        source,
        slide_path=Path(slide_path),
        artefact_params=artefacts,
        artefact_jpg=None if artefacts is None else files["artefacts"],
        artefact_geojson=None if artefacts is None else files["artefact_geojson"],
    )
    return files


def make_tiles(slide_path, folder, name="s", sheet_mpp=None, tiling=None, mask=None, annotation=None):
    """Run the tissue_mask and tile_slide jobs on one slide; returns the tiles file."""
    return prepare_slide(slide_path, folder, name, sheet_mpp, tiling, mask, annotation)["tiles"]


def snakemake_bin() -> str:
    found = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or shutil.which("snakemake")
    if not found:
        pytest.skip("snakemake is not installed")
    return found


def run_snakemake(
    workdir: Path,
    *args: str,
    check: bool = True,
    timeout: int = 900,
    snakefile: Path = REPO / "Snakefile",
    profile: str | None = "none",
    cores: int = 2,
) -> subprocess.CompletedProcess:
    """Run the project's Snakefile (or a copy's) with `workdir` as working directory (results land there).
    By default no workflow profile is used (profile=None leaves the choice to `args`)."""
    command = [
        snakemake_bin(),
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        *(["--workflow-profile", profile] if profile else []),
        "--cores",
        str(cores),
        *args,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({result.returncode}):\n{result.stdout[-5000:]}\n{result.stderr[-8000:]}"
        )
    return result


def rule_blocks() -> dict[str, tuple[Path, str]]:
    """rule name -> (its .smk file, the text of its block), for every rule in rules/*.smk: the one parser of the
    rule files the tests share."""
    import re

    found = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            found[block.split(":", 1)[0].strip()] = (smk, block)
    return found


def rule_directive(block: str, key: str) -> str | None:
    """The quoted value on the line after `key:` in a rule block (conda:, script:), or None."""
    import re

    match = re.search(rf"^\s+{key}:\s*\n\s+\"([^\"]+)\"", block, re.M)
    return match.group(1) if match else None


SLURM_PROFILE = REPO / "profiles" / "slurm"
# per-slide jobs of the slide_prep group: (mem_mb, runtime) from rules/download.smk, masks.smk, tiles.smk (the
# mask's 1000 + 0.5 x slide MB is 1000 for the small demo slides; a fetch of a link has 5 minutes)
FETCH_LINK, FETCH_SLIDE_URL, FETCH_ANNOTATION_URL = (500, 5), (500, 120), (500, 30)
MASK, TILES = (1000, 10), (2000, 10)


def group_request(cores: int, slides: int, annotated: bool, fetch_slide=FETCH_LINK, fetch_annotation=FETCH_LINK):
    """What Snakemake asks for a slide_prep group (the arithmetic of profiles/slurm/config.yaml): the stages
    (fetches, masks, tiles) one after another, each in layers of at most `cores` one-thread jobs (sorted by
    runtime); CPUs the widest layer, memory the largest layer's sum, runtime the sum of the layers' longest."""
    stages = [
        [fetch_slide] * slides + ([fetch_annotation] * slides if annotated else []),
        [MASK] * slides,
        [TILES] * slides,
    ]
    cpus = memory = runtime = 0
    for stage in stages:
        stage = sorted(stage, key=lambda job: -job[1])
        for start in range(0, len(stage), cores):
            layer = stage[start : start + cores]
            cpus, memory = max(cpus, len(layer)), max(memory, sum(mem for mem, _ in layer))
            runtime += max(minutes for _, minutes in layer)
    return cpus, memory, runtime


def check_ring(ring, width: float, height: float, where: str) -> None:
    """A GeoJSON polygon ring QuPath imports: closed, at least 3 distinct vertices, inside the level-0 frame,
    an area, and no two non-adjacent edges crossing (shapely's validity where it is installed)."""
    import numpy as np

    points = np.asarray(ring, float)
    assert points.ndim == 2 and points.shape[1] == 2 and len(points) >= 4, where
    assert (points[0] == points[-1]).all(), f"{where}: ring not closed"
    assert (points >= 0).all() and (points[:, 0] <= width).all() and (points[:, 1] <= height).all(), where
    x, y = points[:, 0], points[:, 1]
    assert abs(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1])) > 0, f"{where}: no area"
    a, b = points[:-1], points[1:]
    d = b - a
    n = len(a)

    def cross(u, v):
        return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]

    ab = cross(d[:, None], b[None] - a[:, None]), cross(d[:, None], a[None] - a[:, None])  # edge i vs ends of j
    cd = cross(d[None], a[:, None] - a[None]), cross(d[None], b[:, None] - a[None])  # edge j vs ends of i
    proper = (ab[0] * ab[1] < 0) & (cd[0] * cd[1] < 0)
    i, j = np.nonzero(np.triu(proper, 2))
    crossing = [(p, q) for p, q in zip(i, j, strict=True) if not (p == 0 and q == n - 1)]
    assert not crossing, f"{where}: edges {crossing[:3]} cross"


def check_qupath_project(
    folder: Path, slides: dict[str, Path], layers: dict[str, str], extra: dict[str, dict[str, str]] | None = None
) -> dict:
    """A review project read back as QuPath reads it: project.qpproj (slidesnake.io.qupath.read_project's checks),
    one entry per slide of `slides` (slide -> its file) whose URI is that file, classes.json with every class of
    core.labels.REVIEW_CLASSES, and per slide each layer of `layers` (layer -> its class) a FeatureCollection of
    valid polygons in the slide's level-0 frame with a score (and the layers `extra` names for some slides).
    Returns layer -> features over all slides."""
    import json
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    import openslide

    from slidesnake.core.labels import REVIEW_CLASSES
    from slidesnake.io import qupath

    project = qupath.read_project(folder)
    entries = {e["imageName"]: e for e in project["images"]}
    assert set(entries) == set(slides)
    assert qupath.read_classes(folder) == {k: tuple(v) for k, v in REVIEW_CLASSES.items()}
    features = {layer: 0 for named in [layers, *(extra or {}).values()] for layer in named}
    for slide, entry in entries.items():
        uri = entry["serverBuilder"]["uri"]
        assert Path(url2pathname(urlparse(uri).path)) == Path(slides[slide]).resolve() and Path(slides[slide]).exists()
        assert entry["serverBuilder"]["providerClassName"] == qupath.OPENSLIDE
        assert (folder / qupath.DATA_DIR / str(entry["entryID"]) / qupath.SERVER_FILE).exists()
        width, height = openslide.OpenSlide(str(slides[slide])).dimensions
        for layer, class_name in {**layers, **(extra or {}).get(slide, {})}.items():
            collection = json.loads(qupath.layer_file(folder, slide, layer).read_text())
            assert collection["type"] == "FeatureCollection"
            for k, feature in enumerate(collection["features"]):
                properties = feature["properties"]
                assert properties["objectType"] == "annotation" and properties["layer"] == layer
                assert properties["classification"] == {"name": class_name, "color": list(REVIEW_CLASSES[class_name])}
                assert 0 <= properties["score"] <= 1 and properties["measurements"]["score"] == properties["score"]
                assert feature["geometry"]["type"] == "Polygon"
                for ring in feature["geometry"]["coordinates"]:
                    check_ring(ring, width, height, f"{slide} {layer} feature {k}")
            features[layer] += len(collection["features"])
    assert (folder / qupath.SCRIPT_DIR / qupath.IMPORT_SCRIPT).exists()
    return features


def site_sheet_inputs(folder: Path, sites: list[str], training: dict):
    """A sheet of one slide per site in `sites` ("" for none; labels alternate a / b, one patient each) in
    `folder`, and the rule inputs of a two-class task `tumor` on it with `training` settings: (sheet, inputs)."""
    import pandas as pd

    from slidesnake.core.labels import SITE_COLUMN
    from slidesnake.workflow.cohort import load_cohort
    from slidesnake.workflow.inputs import RuleInputs

    (folder / "a.svs").write_bytes(b"x")
    rows = [
        {"slide_id": f"s{i}", "source": "a.svs", "label": "ab"[i % 2], "patient_id": f"p{i}", SITE_COLUMN: site}
        for i, site in enumerate(sites)
    ]
    sheet = folder / "samples.tsv"
    pd.DataFrame(rows).to_csv(sheet, sep="\t", index=False)
    config = default_config(
        samples=str(sheet),
        tasks={"tumor": {"label_column": "label", "classes": ["a", "b"]}},
        training=training,
        pu={"enabled": False},
    )
    return sheet, RuleInputs(config, load_cohort(config))

"""The QuPath review project (rule review_project, slidesnake.jobs.review) on two small slides made here, read back
with a parser of QuPath's project format (tests/helpers.check_qupath_project); the same check runs on the demo
run's project in tests/test_workflow_demo.py."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest

from helpers import check_qupath_project, check_ring, prepare_slide
from slidesnake.core.errors import ConfigError, InputFileError
from slidesnake.core.labels import MIL_TUMOR_CLASS, PROPOSED_CLASS, PU_TUMOR_CLASS, TISSUE_CLASS, TUMOR_CLASS
from slidesnake.io import qupath
from slidesnake.io.feature_file import FEATURES
from slidesnake.io.manifest import FEATURE_COLUMNS, SLIDE_COLUMNS, write_manifest
from slidesnake.io.tile_file import COORDS, TileFile
from slidesnake.io.tile_scores import write_tile_scores
from slidesnake.jobs import review
from slidesnake.review.layers import ANNOTATION_LAYER, MIL_LAYER, PROPOSED_LAYER, PU_LAYER, TISSUE_LAYER
from slidesnake.review.params import ReviewParams
from slidesnake.workflow import paths
from slidesnake.workflow.config import default_config, review_choice

LAYERS = {TISSUE_LAYER: TISSUE_CLASS, MIL_LAYER: MIL_TUMOR_CLASS}  # every slide's, new slides' too
TRAINING_LAYERS = {PU_LAYER: PU_TUMOR_CLASS, PROPOSED_LAYER: PROPOSED_CLASS}


@pytest.fixture(scope="module")
def results(tumor_slide, normal_slide, tmp_path_factory):
    """results/ of a run with a tumor slide (annotated) and a normal slide: masks, tiles, PU scores (the tumor mask
    calls the tiles of the truth's tumor), two folds of one MIL model's scores, manifest, QC table and splits."""
    work = tmp_path_factory.mktemp("review")

    def place(template, **wildcards):
        path = work / paths.fill(template, **wildcards)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    slides, rows, pu, coords = {}, [], {}, {}
    for fold, (name, made) in enumerate((("tumor_a", tumor_slide), ("normal_b", normal_slide))):
        slide = place(paths.SLIDE, slide=name, ext="tiff")
        shutil.copy(made["slide"], slide)
        annotation = None
        if made["plan"].label == "tumor":
            annotation = place(paths.ANNOTATION, slide=name, aext="png")
            shutil.copy(made["annotation"], annotation)
        files = prepare_slide(slide, place(paths.MASK, slide=name).parent, name, annotation=annotation)
        shutil.move(files["tiles"], place(paths.TILES, slide=name))
        tiles = TileFile.read(place(paths.TILES, slide=name))
        truth = tiles.annotated_tumor() >= 0.5 if annotation is not None else np.zeros(len(tiles))
        probability = np.clip(np.asarray(truth, float) * 0.8 + 0.1, 0, 1)
        pu[name] = {"nnpu": probability, "tumor_mask": (probability > 0.5).astype(float)}
        coords[name] = tiles.coords
        features = np.random.default_rng(fold).normal(size=(len(tiles), 8)).astype(np.float32)
        with h5py.File(place(paths.FEATURES, encoder="e", slide=name), "w") as h5:
            h5.create_dataset(FEATURES, data=features)
            h5.create_dataset(COORDS, data=tiles.coords)
        write_tile_scores(
            place(paths.FOLD_TILE_SCORES, task="tumor", model="abmil", fold=fold),
            {name: {"score": probability * 4 - 2 + np.linspace(0, 0.1, len(tiles))}},
            {name: tiles.coords},
            {},
            box_size0=tiles.size0,
        )
        slides[name] = slide
        rows.append(
            {
                "slide_id": name,
                "patient_id": f"p_{name}",
                "slide": str(slide),
                "mask": str(files["mask"]),
                "mask_info": str(files["info"]),
                "tiles": str(place(paths.TILES, slide=name)),
                "annotation": None if annotation is None else str(annotation),
                "status": "ok",
            }
        )
    write_tile_scores(place(paths.PU_TILE_SCORES, task="tumor"), pu, coords, {})
    place(paths.PU_PRIOR, task="tumor").write_text(
        json.dumps({"folds": [{"fold": 0, "tumor_mask_threshold": 0.5}, {"fold": 1, "tumor_mask_threshold": 0.3}]})
    )
    pd.DataFrame({"slide_id": list(pu), "fold": [0, 1]}).to_csv(place(paths.PU_SLIDE_SCORES, task="tumor"))
    feature_rows = [
        {
            "slide_id": r["slide_id"],
            "features": str(place(paths.FEATURES, encoder="e", slide=r["slide_id"])),
            "status": "ok",
        }
        for r in rows
    ]
    write_manifest(place(paths.FEATURE_MANIFEST, cohort="train", encoder="e"), feature_rows, FEATURE_COLUMNS)
    pu_run = review.PURun.read(
        place(paths.PU_PRIOR, task="tumor"),
        place(paths.PU_SLIDE_SCORES, task="tumor"),
        place(paths.FEATURE_MANIFEST, cohort="train", encoder="e"),
        0.5,
        "tumor",
        {},
    )
    write_manifest(place(paths.SLIDE_MANIFEST, cohort="train"), rows, SLIDE_COLUMNS)
    write_manifest(place(paths.QC_TABLE, cohort="train"), rows, SLIDE_COLUMNS)
    splits = pd.DataFrame({"slide_id": list(slides), "label": ["tumor", "normal"], "fold0": ["test", "train"]})
    splits.to_csv(place(paths.SPLITS, task="tumor"), index=False)
    new_slide = place(paths.SLIDE, slide="new_c", ext="tiff")  # a new (deploy) slide: tissue and MIL layers
    shutil.copy(normal_slide["slide"], new_slide)
    files = prepare_slide(new_slide, place(paths.MASK, slide="new_c").parent, "new_c")
    shutil.move(files["tiles"], place(paths.TILES, slide="new_c"))
    new_tiles = TileFile.read(place(paths.TILES, slide="new_c"))
    write_tile_scores(
        place(paths.NEW_TILE_SCORES, task="tumor", model="abmil"),
        {"new_c": {"score": np.linspace(0, 1, len(new_tiles))}},
        {"new_c": new_tiles.coords},
        {},
        box_size0=new_tiles.size0,
    )
    new_row = {**rows[1], "slide_id": "new_c", "slide": str(new_slide), "mask": str(files["mask"])}
    new_row |= {"mask_info": str(files["info"]), "tiles": str(place(paths.TILES, slide="new_c"))}
    write_manifest(place(paths.SLIDE_MANIFEST, cohort="new"), [new_row], SLIDE_COLUMNS)
    write_manifest(place(paths.QC_TABLE, cohort="new"), [new_row], SLIDE_COLUMNS)
    slides["new_c"] = new_slide
    out = work / paths.REVIEW_DIR
    review.run(
        place(paths.SLIDE_MANIFEST, cohort="train"),
        place(paths.QC_TABLE, cohort="train"),
        place(paths.SPLITS, task="tumor"),
        place(paths.PU_TILE_SCORES, task="tumor"),
        [place(paths.FOLD_TILE_SCORES, task="tumor", model="abmil", fold=k) for k in range(2)],
        "abmil",
        ReviewParams(evidence_threshold=0.8, regions_per_round=5, diversity=0.5),
        out,
        pu_run,
        (
            place(paths.SLIDE_MANIFEST, cohort="new"),
            place(paths.QC_TABLE, cohort="new"),
            place(paths.NEW_TILE_SCORES, task="tumor", model="abmil"),
        ),
    )
    return out, slides


def test_the_project_reads_back_with_every_slide_layer_and_class(results):
    out, slides = results
    extra = {"tumor_a": {**TRAINING_LAYERS, ANNOTATION_LAYER: TUMOR_CLASS}, "normal_b": TRAINING_LAYERS}
    counts = check_qupath_project(out, slides, LAYERS, extra)
    assert not qupath.layer_file(out, "new_c", PU_LAYER).exists()
    assert counts[TISSUE_LAYER] >= 2 and counts[MIL_LAYER] >= 2 and counts[ANNOTATION_LAYER] >= 1
    normal_pu = json.loads(qupath.layer_file(out, "normal_b", PU_LAYER).read_text())["features"]
    tumor_pu = json.loads(qupath.layer_file(out, "tumor_a", PU_LAYER).read_text())["features"]
    assert not normal_pu and tumor_pu and all(f["properties"]["score"] == pytest.approx(0.9) for f in tumor_pu)
    assert not qupath.layer_file(out, "normal_b", ANNOTATION_LAYER).exists()  # no annotation mask, no layer


def test_proposals_are_unlabelled_tiles_of_the_tumor_slide_best_first(results):
    out, _ = results
    table = pd.read_csv(out / review.PROPOSALS_FILE, sep="\t")
    assert len(table) == 5 and set(table["slide_id"]) == {"tumor_a"} and table["rank"].tolist() == [1, 2, 3, 4, 5]
    tiles = TileFile.read(out.parent / "tiles" / "tumor_a.h5")
    assert (tiles.annotated_tumor()[table["tile"]] < 0.5).all()  # annotated tumor is labelled already
    layer = json.loads(qupath.layer_file(out, "tumor_a", PROPOSED_LAYER).read_text())["features"]
    assert [f["properties"]["rank"] for f in layer] == table["rank"].tolist()
    assert not json.loads(qupath.layer_file(out, "normal_b", PROPOSED_LAYER).read_text())["features"]


def test_project_file_follows_qupaths_keys(results):
    out, _ = results
    project = json.loads((out / qupath.PROJECT_FILE).read_text())
    assert list(project) == list(qupath.PROJECT_KEYS) and project["uri"] == (out / qupath.PROJECT_FILE).as_uri()
    assert [e["entryID"] for e in project["images"]] == [1, 2, 3]
    first = project["images"][0]
    assert first["metadata"] == {"slide_id": "tumor_a", "cohort": "train", "patient_id": "p_tumor_a", "label": "tumor"}
    assert project["images"][2]["metadata"]["cohort"] == "new" and project["lastID"] == 3
    assert first["serverBuilder"]["builderType"] == "uri" and first["serverBuilder"]["args"] == []
    classes = json.loads((out / qupath.CLASSES_FILE).read_text())["pathClasses"]
    assert {"name": "Tumor", "color": qupath.pack_rgb((200, 0, 0))} in classes
    assert qupath.pack_rgb((200, 0, 0)) == -3670016  # QuPath's packed opaque red 200 (signed ARGB)


def test_a_project_with_a_missing_key_or_relative_uri_is_named(results, tmp_path):
    out, _ = results
    project = json.loads((out / qupath.PROJECT_FILE).read_text())
    del project["modifyTimestamp"]
    (tmp_path / qupath.PROJECT_FILE).write_text(json.dumps(project))
    with pytest.raises(InputFileError, match="modifyTimestamp"):
        qupath.read_project(tmp_path)
    project["modifyTimestamp"] = 0
    project["images"][0]["serverBuilder"]["uri"] = "slides/tumor_a.tiff"
    (tmp_path / qupath.PROJECT_FILE).write_text(json.dumps(project))
    with pytest.raises(InputFileError, match="absolute file: URI"):
        qupath.read_project(tmp_path)


def test_the_ring_check_catches_a_bow_tie():
    check_ring([[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]], 20, 20, "square")
    with pytest.raises(AssertionError, match="cross"):
        check_ring([[0, 0], [10, 10], [10, 0], [0, 4], [0, 0]], 20, 20, "bow tie")
    with pytest.raises(AssertionError):
        check_ring([[0, 0], [30, 0], [30, 10], [0, 0]], 20, 20, "outside")


def test_provider_by_format():
    assert qupath.provider_class(qupath.Path("/a/s.svs")) == qupath.OPENSLIDE
    assert qupath.provider_class(qupath.Path("/a/s.ome.tiff")) == qupath.BIOFORMATS
    assert qupath.provider_class(qupath.Path("/a/s.czi")) == qupath.BIOFORMATS


def test_review_task_and_model_come_from_the_config():
    config = default_config()
    assert review_choice(config) == ("tumor", config["training"]["models"][0])
    config["review"]["model"] = "not_a_model"
    with pytest.raises(ConfigError, match="review.model"):
        review_choice(config)


def test_proposals_skip_tiles_the_corrections_label(results, tmp_path):
    from dataclasses import replace

    from slidesnake.io.corrected_labels import write_corrected_labels
    from slidesnake.io.manifest import read_manifest
    from slidesnake.io.tile_scores import PU_MASK, PU_SCORE, read_tile_scores

    out, _ = results
    work = out.parent.parent
    table = pd.read_csv(out / review.PROPOSALS_FILE, sep="\t")
    tiles = TileFile.read(work / paths.fill(paths.TILES, slide="tumor_a"))
    fractions = np.zeros((len(tiles), 3), np.float32)
    fractions[table["tile"].iloc[0], 1] = 1.0  # the pathologist called the first proposal benign
    write_corrected_labels(tmp_path / "c.h5", tiles.coords, fractions, {})
    manifest = read_manifest(work / paths.fill(paths.SLIDE_MANIFEST, cohort="train"))
    scores = work / paths.fill(paths.PU_TILE_SCORES, task="tumor")
    pu = {name: read_tile_scores([scores], name) for name in (PU_SCORE, PU_MASK)}
    folds = [work / paths.fill(paths.FOLD_TILE_SCORES, task="tumor", model="abmil", fold=k) for k in range(2)]
    mil = read_tile_scores(folds, "score")
    pu_run = review.PURun.read(
        work / paths.fill(paths.PU_PRIOR, task="tumor"),
        work / paths.fill(paths.PU_SLIDE_SCORES, task="tumor"),
        work / paths.fill(paths.FEATURE_MANIFEST, cohort="train", encoder="e"),
        0.5,
        "tumor",
        {},
    )
    _, _, before = review.proposal_scores(manifest, ["tumor_a"], pu, pu_run, mil)
    _, _, after = review.proposal_scores(
        manifest, ["tumor_a"], pu, replace(pu_run, corrected={"tumor_a": str(tmp_path / "c.h5")}), mil
    )
    first = table["tile"].iloc[0]
    assert not before["tumor_a"][first] and after["tumor_a"][first]

"""Corrections exported from QuPath merged into the annotations (slidesnake.review.corrections, rule
merge_corrections): the merge rules, each bad-input error, the user's files untouched, PNU with confirmed
negatives, MIL instance targets (the rerun of exactly PU / MIL is checked on the demo run,
tests/test_workflow_demo.py)."""

from __future__ import annotations

import hashlib
import json
import shutil

import cv2
import numpy as np
import pytest

from helpers import prepare_slide, pu_params
from slidesnake.core.errors import OutsideSlideError, SelfIntersectionError, UnknownClassError, WrongSlideError
from slidesnake.core.labels import BACKGROUND, CONFIRMED_NEGATIVE, IGNORED, TUMOR
from slidesnake.io.corrected_labels import merge_report, read_corrected_labels
from slidesnake.io.tile_file import TileFile
from slidesnake.jobs import merge_corrections
from slidesnake.mil.train import instance_targets
from slidesnake.pu.folds import SlideTiles, fold_sets
from slidesnake.review.corrections import merge, read_corrections

SIZE = (1000, 800)  # level-0 width, height of the made-up slide


def square(x, y, side):
    return [[[x, y], [x + side, y], [x + side, y + side], [x, y + side], [x, y]]]


def feature(class_name, rings, name=None, **properties):
    props = {"objectType": "annotation", "classification": {"name": class_name, "color": [200, 0, 0]}, **properties}
    if name:
        props["name"] = name
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": rings}, "properties": props}


def write(tmp_path, *features, collection=True):
    path = tmp_path / "s.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)} if collection else features))
    return path


def test_merge_rules_benign_takes_back_tumor_conflicts_and_ignore(tmp_path):
    annotation = np.zeros((80, 100), np.uint8)  # the user's mask at 10 level-0 px per pixel: tumor at x 0-300
    annotation[:, :30] = TUMOR
    path = write(
        tmp_path,
        feature("Tumor", square(500, 100, 200), "new tumor"),
        feature("Benign", square(0, 0, 100), "not tumor after all"),
        feature("Benign", square(600, 200, 200), "overlapping benign"),
        feature("Ignore", square(0, 600, 100)),
        feature("Tumor (PU)", square(0, 0, 50)),  # a review layer exported along: skipped
        collection=False,  # a plain list of features, as QuPath can export
    )
    corrections, skipped = read_corrections(path, "s", SIZE)
    assert skipped == 1 and [c.class_name for c in corrections] == ["Tumor", "Benign", "Benign", "Ignore"]
    labels, report = merge(annotation, corrections, SIZE, 10.0)
    assert labels.shape == (80, 100)
    assert labels[5, 5] == CONFIRMED_NEGATIVE and labels[50, 20] == TUMOR  # benign over annotated tumor
    assert labels[15, 55] == TUMOR and labels[25, 65] == IGNORED and labels[65, 5] == IGNORED
    assert labels[35, 75] == CONFIRMED_NEGATIVE and labels[5, 95] == BACKGROUND
    assert report["conflicts"] == [["feature 0 ('new tumor')", "feature 2 ('overlapping benign')"]]
    # the Benign square's 10 x 10 px, with its boundary pixels (OpenCV fills them)
    assert 100 <= report["annotated_tumor_px_taken_back"] <= 121 and report["polygons"]["Benign"] == 2


@pytest.mark.parametrize(
    "features, error, match",
    [
        ([feature("Stroma", square(0, 0, 10))], UnknownClassError, "class 'Stroma'"),
        ([{**feature("Tumor", square(0, 0, 10)), "properties": {}}], UnknownClassError, "class None"),
        ([feature("Tumor", [[[0, 0], [100, 100], [100, 0], [0, 40], [0, 0]]], "bow")], SelfIntersectionError, "bow"),
        (
            [feature("Tumor", square(0, 0, 10)), feature("Tumor", square(950, 0, 100), "edge")],
            OutsideSlideError,
            "edge",
        ),
        ([feature("Tumor", square(2000, 1500, 300)), feature("Benign", square(1500, 900, 50))], WrongSlideError, "x"),
        ([feature("Tumor", square(0, 0, 10), slide_id="other")], WrongSlideError, "slide 'other'"),
    ],
    ids=["unknown class", "unclassified", "self-intersection", "outside", "other slide's size", "other slide's id"],
)
def test_bad_corrections_are_named(tmp_path, features, error, match):
    path = write(tmp_path, *features)
    with pytest.raises(error, match=match) as caught:
        read_corrections(path, "s", SIZE)
    assert str(path) in str(caught.value)


@pytest.fixture(scope="module")
def corrected(tumor_slide, tmp_path_factory):
    """The merge job on the small tumor slide: a Benign square over part of the annotated tumor, an Ignore square."""
    work = tmp_path_factory.mktemp("corrections")
    slide, annotation = work / "t.tiff", work / "t_annotation.png"
    shutil.copy(tumor_slide["slide"], slide)
    shutil.copy(tumor_slide["annotation"], annotation)
    tiles_path = prepare_slide(slide, work, "t", annotation=annotation)["tiles"]
    tiles = TileFile.read(tiles_path)
    tumor_tiles = tiles.coords[tiles.annotated_tumor() >= 0.5]
    x, y = tumor_tiles[0]
    side = tiles.size0
    other = tiles.coords[tiles.annotated_tumor() == 0][-1]
    corrections = write(
        work,
        feature("Benign", square(float(x), float(y), side), "benign"),
        feature("Ignore", square(float(other[0]), float(other[1]), tiles.size0)),
    )
    before = {p: hashlib.md5(p.read_bytes()).hexdigest() for p in (annotation, corrections)}
    report = merge_corrections.run("s", tiles_path, annotation, corrections, work / "c.png", work / "c.h5")
    return {"work": work, "tiles": tiles, "report": report, "before": before, "benign": (x, y, side), "other": other}


def test_the_merge_job_writes_new_files_and_leaves_the_users_alone(corrected):
    work, tiles = corrected["work"], corrected["tiles"]
    assert {p: hashlib.md5(p.read_bytes()).hexdigest() for p in corrected["before"]} == corrected["before"]
    mask = cv2.imread(str(work / "c.png"), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(mask)) == {BACKGROUND, TUMOR, CONFIRMED_NEGATIVE, IGNORED}
    labels = read_corrected_labels(work / "c.h5", "s", tiles.coords)
    x, y, side = corrected["benign"]
    inside = (tiles.coords[:, 0] >= x) & (tiles.coords[:, 1] >= y)
    inside &= (tiles.coords[:, 0] + tiles.size0 <= x + side) & (tiles.coords[:, 1] + tiles.size0 <= y + side)
    assert inside.any() and labels.negative[inside].all() and (labels.tumor[inside] == 0).all()
    assert labels.ignored[np.all(tiles.coords == corrected["other"], axis=1)].all()
    untouched = ~inside & ~labels.ignored
    np.testing.assert_allclose(labels.tumor[untouched], tiles.annotated_tumor()[untouched], atol=0.15)
    assert merge_report(work / "c.h5")["polygons"]["Benign"] == 1


def test_confirmed_negatives_of_tumor_slides_join_n_ignored_tiles_join_nothing():
    features = np.arange(10, dtype=np.float32)[:, None]
    tumor = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], float)
    negative = np.array([0, 0, 1, 1, 0, 0, 0, 0, 0, 0], bool)
    ignored = np.array([0, 0, 0, 0, 1, 0, 0, 0, 0, 0], bool)
    tiles = {"t": SlideTiles(features, tumor, negative, ignored), "n": SlideTiles(features + 100, None)}
    p, u, n = fold_sets(["t", "n"], tiles, {"t": True, "n": False}, pu_params(use_negative_slides=False))
    assert p[:, 0].tolist() == [0, 1] and n[:, 0].tolist() == [2, 3] and u[:, 0].tolist() == [5, 6, 7, 8, 9]
    _, _, with_slides = fold_sets(["t", "n"], tiles, {"t": True, "n": False}, pu_params(use_negative_slides=True))
    assert len(with_slides) == 12
    _, _, none = fold_sets(["t"], {"t": SlideTiles(features, tumor)}, {"t": True}, pu_params())
    assert none is None


def test_mil_instance_targets_take_the_corrections():
    targets = instance_targets(
        np.array([1, 0, 0, 0], bool), True, np.array([0, 1, 0, 0], bool), np.array([1, 0, 0, 0], bool)
    )
    assert np.isnan(targets[0]) and targets[1] == 0 and np.isnan(targets[2])

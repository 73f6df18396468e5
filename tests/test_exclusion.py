"""Exclusion instead of blocking: a slide the mask or tiling job cannot prepare is excluded with its reason (all
outputs still written, valid and marked), or fails with the named error under qc.strict."""

import json
import logging
import shutil

import cv2
import h5py
import numpy as np
import pytest

from helpers import TCGA, prepare_slide, require_shared_data, tiling_params
from slidesnake.core.errors import SlideError
from slidesnake.io.exclusion import EXCLUDED, MASK_STAGE, STATUS, TILING_STAGE, Exclusion, h5_exclusion
from slidesnake.io.mask_info import MaskInfo
from slidesnake.io.pyramid_tiff import write_single_level
from slidesnake.io.tile_file import TileFile
from slidesnake.jobs import tile_slide
from slidesnake.tissue.params import QcParams
from slidesnake.workflow.config import default_config, default_params

SOURCE = "/data/user/slide.svs"  # the sample sheet's file the records must name


def prepare(slide_path, folder, strict=False, min_tiles=1, sheet_mpp=None):
    """The mask and tiling jobs as the rules run them (exclusion on unless strict); the output files."""
    qc = default_params(QcParams, "qc", strict=strict)
    return prepare_slide(slide_path, folder, sheet_mpp=sheet_mpp, qc=qc, min_tiles=min_tiles, source=SOURCE)


def assert_excluded(files, stage, reason):
    """Every output exists and is valid; the mask info and the tiles file record the same exclusion."""
    info = MaskInfo.read(files["info"])
    tiles = TileFile.read(files["tiles"])
    recorded = h5_exclusion(files["tiles"])
    assert recorded is not None and recorded.stage == stage and reason in recorded.reason
    assert recorded.source == SOURCE and len(tiles) == 0
    if stage == MASK_STAGE:
        assert info.exclusion == recorded
        assert json.loads(files["info"].read_text())[STATUS] == EXCLUDED
        assert json.loads(files["geojson"].read_text())["features"] == []
        assert cv2.imread(str(files["mask"]), cv2.IMREAD_GRAYSCALE) is not None
    for picture in ("thumbnail", "qc", "tiles_qc"):
        assert cv2.imread(str(files[picture])) is not None
    return recorded


@pytest.fixture
def truncated(tumor_slide, tmp_path):
    data = tumor_slide["slide"].read_bytes()
    path = tmp_path / "truncated.tiff"
    path.write_bytes(data[: len(data) // 3])
    return path


def test_truncated_file_is_excluded_naming_the_users_file(truncated, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        files = prepare(truncated, tmp_path)
    assert_excluded(files, MASK_STAGE, "OpenSlide cannot")
    warning = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "excluded" in r.getMessage()]
    assert warning and "'s'" in warning[0] and SOURCE in warning[0]


def test_truncated_file_fails_under_strict(truncated, tmp_path):
    with pytest.raises(SlideError, match="slide 's'.*OpenSlide cannot"):
        prepare(truncated, tmp_path, strict=True)


def test_slide_without_mpp_is_excluded(tmp_path):
    require_shared_data()
    copy = tmp_path / "tcga.svs"
    shutil.copyfile(TCGA, copy)
    assert_excluded(prepare(copy, tmp_path), MASK_STAGE, "microns-per-pixel")


def test_slide_without_mpp_given_in_the_sheet_passes(tmp_path):
    require_shared_data()
    files = prepare(TCGA, tmp_path, sheet_mpp=0.5)
    assert MaskInfo.read(files["info"]).exclusion is None and h5_exclusion(files["tiles"]) is None
    assert len(TileFile.read(files["tiles"])) > 0


def test_blank_slide_is_excluded_for_no_tissue(tmp_path):
    path = tmp_path / "white.tiff"
    write_single_level(path, np.full((1024, 1024, 3), 250, np.uint8), 0.5)
    assert_excluded(prepare(path, tmp_path), MASK_STAGE, "no tissue found")
    with pytest.raises(SlideError, match="no tissue found"):
        prepare(path, tmp_path, strict=True)


def test_too_few_tiles_are_excluded_at_tiling(tumor_slide, tmp_path):
    files = prepare(tumor_slide["slide"], tmp_path, min_tiles=100_000)
    recorded = assert_excluded(files, TILING_STAGE, "fewer than qc.min_tiles 100000")
    assert MaskInfo.read(files["info"]).exclusion is None  # the mask itself was fine
    assert recorded == Exclusion.from_attrs(TileFile.read(files["tiles"]).attrs)
    with pytest.raises(SlideError, match="fewer than qc.min_tiles"):
        prepare(tumor_slide["slide"], tmp_path, strict=True, min_tiles=100_000)


def test_a_small_demo_slide_passes_with_the_default_min_tiles(tumor_slide, normal_slide, tmp_path):
    min_tiles = default_config()["qc"]["min_tiles"]
    for slide in (tumor_slide, normal_slide):
        files = prepare(slide["slide"], tmp_path, min_tiles=min_tiles)
        assert h5_exclusion(files["tiles"]) is None and len(TileFile.read(files["tiles"])) >= min_tiles


def test_read_manifest_hands_out_the_slides_that_passed(tmp_path):
    from slidesnake.io.exclusion import status_cells
    from slidesnake.io.manifest import FEATURE_COLUMNS, read_manifest, write_manifest

    exclusion = Exclusion(MASK_STAGE, "no tissue found", SOURCE)
    rows = [
        {"slide_id": "a", "features": "a.h5", "tiles": "a_t.h5", "dim": 8, **status_cells(None)},
        {"slide_id": "b", "features": "b.h5", "tiles": "b_t.h5", "dim": 0, **status_cells(exclusion)},
    ]
    write_manifest(tmp_path / "m.tsv", rows, FEATURE_COLUMNS)
    assert list(read_manifest(tmp_path / "m.tsv")) == ["a"]
    every = read_manifest(tmp_path / "m.tsv", every=True)
    assert Exclusion.from_attrs(every["b"]) == exclusion and Exclusion.from_attrs(every["a"]) is None


def test_the_evaluation_report_lists_exclusions_per_class():
    from slidesnake.evaluation.entries import excluded_entry
    from slidesnake.evaluation.report import excluded_lines
    from slidesnake.io.exclusion import status_cells

    qc = {
        "a": {"slide_id": "a", **status_cells(None)},
        "b": {"slide_id": "b", **status_cells(Exclusion(MASK_STAGE, "no tissue found", SOURCE))},
        "c": {"slide_id": "c", **status_cells(Exclusion(TILING_STAGE, "3 tiles", "/data/c.svs"))},
    }
    entry = excluded_entry(qc, {"a": "tumor", "b": "tumor", "c": "normal"}, ["normal", "tumor"])
    assert entry["per_class"] == {"normal": {"slides": 1, "excluded": 1}, "tumor": {"slides": 2, "excluded": 1}}
    text = "\n".join(excluded_lines(entry))
    assert "normal 1 of 1, tumor 1 of 2" in text
    assert f"| b | tumor | tissue_mask | no tissue found | {SOURCE} |" in text and "| c | normal | tile_slide |" in text


def test_an_annotation_mask_that_does_not_fit_excludes_the_slide_at_tiling(tumor_slide, tmp_path):
    files = prepare(tumor_slide["slide"], tmp_path)
    wrong = tmp_path / "wrong.png"
    cv2.imwrite(str(wrong), np.zeros((100, 300), np.uint8))
    tile_slide.run(
        "s",
        files["mask"],
        files["info"],
        files["thumbnail"],
        wrong,
        tiling_params(tile_px=256),
        files["tiles"],
        files["tiles_qc"],
        1,
        False,
        SOURCE,
    )
    assert_excluded(files, TILING_STAGE, "does not match")


def test_tile_class_consumers_skip_an_excluded_slides_file(tmp_path):
    """collect_tile_classes writes an excluded slide a valid empty file; the composition and maps skip it."""
    from slidesnake.io.shard_table import run_shard
    from slidesnake.io.tile_classes import passed, read_tile_classes, write_tile_classes
    from slidesnake.jobs import collect_tile_classes

    tiles = tmp_path / "tiles.h5"
    with h5py.File(tiles, "w") as h5:
        h5.attrs.update(Exclusion(MASK_STAGE, "no tissue found", SOURCE).attrs())
    slides = {"x": {"slide": "x.tiff", "tiles": tiles, "classes": str(tmp_path / "shard_x.h5")}}
    run_shard(slides, None, "classes", tmp_path / "shard.tsv", "tile classes", "tiles", "classify_tiles")
    collect_tile_classes.run(tmp_path / "shard.tsv", "x", tmp_path / "x.h5", strict=False)
    write_tile_classes(tmp_path / "y.h5", np.zeros((2, 2)), np.full((2, 3), 1 / 3), ["a", "b", "c"], {})
    assert passed({"x": tmp_path / "x.h5", "y": tmp_path / "y.h5"}) == {"y": tmp_path / "y.h5"}
    assert len(read_tile_classes(tmp_path / "y.h5")[0]) == 2

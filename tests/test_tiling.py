"""Tile grids: exact coverage, agreement with truth, annotation fractions, the tile file contract."""

import json

import cv2
import h5py
import numpy as np
import pytest

from helpers import make_tiles, mask_params, tiling_params
from slidesnake.core.errors import ConfigError, InputFileError
from slidesnake.io.tile_file import ANNOTATION_FRACTION, ATTRIBUTES, COORDS, TileFile
from slidesnake.tissue.tiling import box_coverage, label_fractions, make_grid, mask_downsample


def brute_coverage(mask, ds, x, y, size0, upscale=8):
    """Coverage by rasterising the mask at a finer grid (reference for box_coverage)."""
    fine = np.kron(mask.astype(np.float64), np.ones((upscale, upscale)))
    sx, sy = ds[0] / upscale, ds[1] / upscale
    x0, x1 = int(round(x / sx)), int(round((x + size0) / sx))
    y0, y1 = int(round(y / sy)), int(round((y + size0) / sy))
    return fine[max(y0, 0) : y1, max(x0, 0) : x1].sum() / ((x1 - x0) * (y1 - y0))


def test_box_coverage_is_exact_for_unaligned_boxes():
    rng = np.random.default_rng(0)
    mask = rng.random((37, 53)) > 0.5
    ds = (4.0, 4.0)
    xs = np.array([0.0, 3.0, 50.5, 190.0])
    ys = np.array([0.0, 7.5, 120.0])
    got = box_coverage(mask, ds, xs, ys, 10.0)
    for j, y in enumerate(ys):
        for i, x in enumerate(xs):
            assert got[j, i] == pytest.approx(brute_coverage(mask, ds, x, y, 10.0), abs=1e-9)


def test_grid_keeps_exactly_the_tiles_the_mask_implies():
    mask = np.zeros((64, 80), bool)
    mask[10:40, 5:60] = True
    params = tiling_params(tile_px=32, mpp=1.0, min_tissue=0.5)
    grid = make_grid(mask, (4.0, 4.0), (320, 256), 0.5, params)  # tile = 64 level-0 px
    expected = [
        (x, y)
        for y in range(0, 256, 64)
        for x in range(0, 320, 64)
        if brute_coverage(mask, (4.0, 4.0), x, y, 64) >= 0.5
    ]
    assert grid.size0 == 64 and sorted(map(tuple, grid.coords.tolist())) == sorted(expected)
    assert np.all(np.diff(grid.coords[:, 1]) >= 0)  # row-major (spatial) order


def test_overlap_and_border_tiles():
    mask = np.ones((25, 33), bool)  # slide 330 x 250 px, not a multiple of the tile
    params = tiling_params(tile_px=100, mpp=1.0, overlap_px=50, min_tissue=0.0)
    grid = make_grid(mask, (10.0, 10.0), (330, 250), 1.0, params)
    assert sorted(set(grid.coords[:, 0].tolist())) == [0, 50, 100, 150, 200, 250, 300]
    assert sorted(set(grid.coords[:, 1].tolist())) == [0, 50, 100, 150, 200]
    corner = grid.tissue_fraction[(grid.coords[:, 0] == 300) & (grid.coords[:, 1] == 200)][0]
    assert corner == pytest.approx(30 * 50 / 100**2)  # outside the slide counts as background
    with pytest.raises(ConfigError, match="tiling.overlap_px"):
        make_grid(mask, (10.0, 10.0), (330, 250), 1.0, tiling_params(tile_px=10, overlap_px=10))


def test_label_fractions_at_another_downsample():
    labels = np.zeros((50, 50), np.uint8)
    labels[:, 25:] = 1
    labels[:25, 25:] = 2
    coords = np.array([[0, 0], [100, 0], [100, 100], [75, 75]])
    fractions = label_fractions(labels, (4.0, 4.0), coords, 100, (0, 1, 2))
    assert fractions[0] == pytest.approx([1, 0, 0])
    assert fractions[1] == pytest.approx([0, 0, 1])
    assert fractions[2] == pytest.approx([0, 1, 0])
    assert fractions[3] == pytest.approx([0.25, 0.5625, 0.1875])  # box (75..175)^2


def test_annotation_mask_with_wrong_aspect_is_an_error():
    with pytest.raises(InputFileError, match="annotation mask: 300 x 100 px, which does not match"):
        mask_downsample((100, 300), (4000, 4000), "annotation mask")
    assert mask_downsample((250, 250), (4000, 4000), "m") == (16.0, 16.0)


def tile_slide(slide, folder, params=None, sheet_mpp=None, annotation=True, mask=None):
    """Mask and tile a demo slide (with its annotation) or a real one; returns its TileFile and mask info."""
    name = slide["plan"].slide_id if isinstance(slide, dict) else "s"
    path = slide["slide"] if isinstance(slide, dict) else slide
    annotation_path = slide["annotation"] if isinstance(slide, dict) and annotation else None
    tiles = make_tiles(path, folder, name, sheet_mpp, params or tiling_params(), mask, annotation_path)
    return TileFile.read(tiles), json.loads((folder / f"{name}.json").read_text())


def truth_coverage(slide, coords, size0, value_min=1):
    truth = cv2.imread(str(slide["truth"]), cv2.IMREAD_GRAYSCALE) >= value_min
    ds = slide["stats"]["truth_downsample"]
    xs, xi = np.unique(coords[:, 0], return_inverse=True)
    ys, yi = np.unique(coords[:, 1], return_inverse=True)
    return box_coverage(truth, (ds, ds), xs.astype(float), ys.astype(float), size0)[yi, xi], truth


def test_tiles_agree_with_truth(tumor_slide, tmp_path):
    tiles, _ = tile_slide(tumor_slide, tmp_path)
    coords, size0 = tiles.coords, tiles.size0
    on_tissue, truth = truth_coverage(tumor_slide, coords, size0)
    assert np.mean(on_tissue > 0.1) >= 0.98
    # share of the truth tissue area under kept tiles
    covered = np.zeros_like(truth)
    ds = tumor_slide["stats"]["truth_downsample"]
    for x, y in coords // ds:
        covered[y : y + size0 // ds, x : x + size0 // ds] = True
    assert (covered & truth).sum() / truth.sum() >= 0.90


def test_annotation_fractions_match_the_mask(tumor_slide, tmp_path):
    tiles, _ = tile_slide(tumor_slide, tmp_path, params=tiling_params(tile_px=256))
    fractions = tiles.annotation_fraction
    with h5py.File(tmp_path / "demo_test.h5") as h5:
        assert list(h5[ANNOTATION_FRACTION].attrs["classes"]) == ["background", "tissue", "tumor"]
    assert np.allclose(fractions.sum(1), 1, atol=1e-5)
    annotation = cv2.imread(str(tumor_slide["annotation"]), cv2.IMREAD_GRAYSCALE)
    ds = tumor_slide["stats"]["truth_downsample"]
    size0 = tiles.size0
    for (x, y), row in zip(tiles.coords, fractions, strict=False):
        block = annotation[y // ds : (y + size0) // ds, x // ds : (x + size0) // ds]
        full = size0 // ds
        assert row[2] == pytest.approx((block == 2).sum() / full**2, abs=1e-5)
        assert row[1] == pytest.approx((block == 1).sum() / full**2, abs=1e-5)
    assert len(fractions) > 10 and (fractions[:, 2] > 0.1).any()


def test_tile_file_contract(tumor_slide, tmp_path):
    """Each attribute has one meaning; no `patch_size`, which CLAM and TRIDENT read differently."""
    tiles, info = tile_slide(tumor_slide, tmp_path)
    with h5py.File(tmp_path / "demo_test.h5") as h5:
        coords = h5[COORDS]
        assert coords.dtype == np.int64 and coords.shape[1] == 2
        for attrs in (dict(coords.attrs), dict(h5.attrs)):
            assert set(ATTRIBUTES) <= set(attrs) and "patch_size" not in attrs and "patch_level" not in attrs
    attrs = tiles.attrs
    assert attrs["tile_px"] == 512 and attrs["tile_px_level0"] == 512 and attrs["slide_id"] == "demo_test"
    assert attrs["level0_width"] == info["level0_width"] and list(attrs["level_downsamples"]) == [1, 4, 16]
    assert attrs["target_mpp"] == 0.5 and attrs["min_tissue"] == 0.25 and attrs["mpp_source"] == "file"
    assert len(tiles.tissue_fraction) == len(tiles) and tiles.tissue_fraction.min() >= 0.25
    assert "code_hash" in attrs and "params_json" in attrs


def test_slide_without_tissue_gives_valid_empty_file(normal_slide, tmp_path):
    tiles, _ = tile_slide(normal_slide, tmp_path, mask=mask_params(threshold_floor=255))
    assert tiles.coords.shape == (0, 2) and tiles.tile_px == 512
    assert tiles.annotation_fraction.shape == (0, 3)


def test_real_slides_tile(real_slides, tmp_path):
    (tmp_path / "cmu_dir").mkdir()
    tiles, info = tile_slide(real_slides["cmu"], tmp_path / "cmu_dir", annotation=False)
    assert len(tiles) > 5 and tiles.attrs["mpp_level0"] == pytest.approx(0.499)
    assert tiles.size0 == round(512 * 0.5 / 0.499)
    (tmp_path / "tcga_dir").mkdir()
    tiles, info = tile_slide(real_slides["tcga"], tmp_path / "tcga_dir", sheet_mpp=0.25, annotation=False)
    # 0.5 um/px from a 0.25 um/px slide: 1024 level-0 px per tile
    assert tiles.size0 == 1024 and len(tiles) > 0 and tiles.attrs["mpp_source"] == "sample sheet"

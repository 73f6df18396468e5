"""The artefact QC (tissue/artefacts.py): each measure on synthetic tiles (blurred against sharp, marker ink
against H&E, a fold against normal and tumor tissue, glass), thresholds deciding what is dropped, and the tiling
job dropping artefact tiles, recording them and excluding a slide by the slide gate with its reason."""

import json

import cv2
import h5py
import numpy as np
import pytest

from helpers import prepare_slide, tiling_params
from slidesnake.core.errors import SlideError
from slidesnake.demo.geometry import PEN_COLOURS_OD, make_layout
from slidesnake.demo.render import SlideRenderer
from slidesnake.io.exclusion import EXCLUDED, TILING_STAGE, h5_exclusion
from slidesnake.io.tile_file import DROPPED, MEASURE_DATASETS, TileFile
from slidesnake.tissue import artefacts
from slidesnake.tissue.params import ArtefactParams
from slidesnake.workflow.config import default_params

SIDE = 512  # level-0 px of a tile (0.5 um/px), measured at 2 um/px as the defaults do
QC_SIDE = 128


def qc_params(**changes) -> ArtefactParams:
    return default_params(ArtefactParams, "qc", **changes)


def shrink(rgb):
    return cv2.resize(rgb, (QC_SIDE, QC_SIDE), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def tissue():
    """A renderer over a layout that is tissue everywhere, and a few of its tiles (level 0)."""
    layout = make_layout(np.random.default_rng(4), 4096, 4096, 0.0, False)
    layout.tissue[:] = 1.0
    renderer = SlideRenderer(layout, 9)
    return renderer, [renderer.render(x, 0, SIDE, SIDE)[0] for x in range(0, 4 * SIDE, SIDE)]


def test_blurred_tissue_has_a_lower_focus_than_sharp(tissue):
    _, tiles = tissue
    sharp = [artefacts.measure_tile(shrink(t))[0] for t in tiles]
    blurred = [artefacts.measure_tile(shrink(cv2.GaussianBlur(t, (0, 0), 3.0)))[0] for t in tiles]
    threshold = qc_params().min_focus
    assert min(sharp) > threshold > max(blurred), (sharp, blurred)


def test_focus_does_not_follow_the_amount_of_tissue(tissue):
    _, tiles = tissue
    full = shrink(tiles[0])
    half = full.copy()
    half[:, QC_SIDE // 2 :] = 242  # half glass
    full_focus, half_focus = artefacts.measure_tile(full)[0], artefacts.measure_tile(half)[0]
    assert abs(half_focus / full_focus - 1) < 0.25, (full_focus, half_focus)
    assert np.isnan(artefacts.measure_tile(np.full((QC_SIDE, QC_SIDE, 3), 242, np.uint8))[0])  # glass: unmeasured


@pytest.mark.parametrize("colour", sorted(PEN_COLOURS_OD))
def test_marker_ink_is_pen_and_h_and_e_is_not(colour):
    h_and_e = np.zeros((QC_SIDE, QC_SIDE, 3), np.uint8)
    h_and_e[:] = (200, 120, 190)  # eosin pink
    h_and_e[::4, ::4] = (80, 60, 150)  # haematoxylin nuclei
    inked = h_and_e.copy()
    od = np.array(PEN_COLOURS_OD[colour]) * 1.6  # opaque marker over tissue
    inked[:, 40:70] = np.clip(255 * np.exp(-od), 0, 255).astype(np.uint8)
    assert artefacts.measure_tile(h_and_e)[1] == 0
    assert artefacts.measure_tile(inked)[1] > qc_params().max_pen


def test_a_fold_holds_more_eosin_than_its_slide_and_tumor_does_not(tissue):
    renderer, tiles = tissue
    layout = renderer.layout
    layout.folds.append(np.array([[0, 0], [SIDE, 0], [SIDE, SIDE], [0, SIDE]], np.int32) + [5 * SIDE, 0])
    fold = renderer.render(5 * SIDE, 0, SIDE, SIDE)[0]
    layout.folds.clear()
    tumor_layout = make_layout(np.random.default_rng(4), 4096, 4096, 0.0, False)
    tumor_layout.tissue[:] = 1.0
    tumor_layout.tumor[:] = 1.0
    tumor = SlideRenderer(tumor_layout, 9).render(0, 0, SIDE, SIDE)[0]
    measures = artefacts.measure_tiles([shrink(t) for t in [*tiles, tumor, fold]])
    limit = qc_params().max_fold
    assert measures.fold[-1] > limit and (measures.fold[:-1] < limit).all(), measures.fold


def test_glass_is_white():
    glass = np.full((QC_SIDE, QC_SIDE, 3), (243, 240, 242), np.uint8)
    assert artefacts.measure_tile(glass)[3] > qc_params().max_white


def test_thresholds_decide_what_is_dropped():
    measures = artefacts.TileMeasures(
        np.array([2.0, 1.0, 0.5, 2.0], np.float32),
        np.array([0.0, 0.0, 0.0, 0.2], np.float32),
        np.ones(4, np.float32),
        np.zeros(4, np.float32),
    )
    default = artefacts.artefact_flags(measures, qc_params(min_focus=1.2))
    assert default.tolist() == [0, 1, 1, 2]  # bit 0 blur, bit 1 pen
    assert artefacts.artefact_flags(measures, qc_params(min_focus=0.8)).tolist() == [0, 0, 1, 2]
    assert artefacts.artefact_flags(measures, qc_params(min_focus=0.0, max_pen=1.0)).tolist() == [0, 0, 0, 0]


def test_the_slide_gate_names_its_reason():
    measures = artefacts.TileMeasures(*(np.full(4, v, np.float32) for v in (0.5, 0.0, 1.0, 0.0)))
    flags = artefacts.artefact_flags(measures, qc_params())
    qc = artefacts.slide_qc(measures, flags, np.ones(4))
    assert qc.artefact_share == 1.0 and qc.kind_shares["blur"] == 1.0
    assert "qc.max_artefact_share" in qc.gate(qc_params()) and "blur 100%" in qc.gate(qc_params())
    assert "qc.min_slide_focus" in qc.gate(qc_params(max_artefact_share=1.0))
    assert qc.gate(qc_params(max_artefact_share=1.0, min_slide_focus=0.0)) is None


@pytest.fixture(scope="module")
def blurred_slide(tumor_slide, tmp_path_factory):
    """The demo tumor slide with its top half blurred (as a scanner's focus loss), one level; the top row index."""
    from slidesnake.io.pyramid_tiff import write_single_level
    from slidesnake.io.slide import Slide

    with Slide(tumor_slide["slide"]) as slide:
        rgb = slide.read_downsampled(1.0)
    half = rgb.shape[0] // 2
    rgb[:half] = cv2.GaussianBlur(rgb[:half], (0, 0), 3.0)
    path = tmp_path_factory.mktemp("blurred") / "blurred.tiff"
    write_single_level(path, rgb, 0.5)
    return path, half


def test_the_tiling_job_drops_blurred_tiles_and_records_them(blurred_slide, tmp_path):
    path, half = blurred_slide
    files = prepare_slide(path, tmp_path, tiling=tiling_params(), artefacts=qc_params())
    tiles = TileFile.read(files["tiles"])
    assert len(tiles) and len(tiles.dropped)
    assert (tiles.coords[:, 1] + tiles.size0 > half).all()  # every kept tile reaches the sharp half
    blurred = (tiles.dropped.flags & 1) == 1
    assert blurred.any() and (tiles.dropped.coords[blurred, 1] < half).all()
    assert (tiles.measures.focus >= qc_params().min_focus).all() and len(tiles.measures.focus) == len(tiles)
    with h5py.File(files["tiles"]) as h5:
        assert MEASURE_DATASETS["focus"] in h5 and DROPPED in h5
        assert 0 < h5.attrs["artefact_share"] < qc_params().max_artefact_share
    geojson = json.loads(files["artefact_geojson"].read_text())
    assert {f["properties"]["artefact"] for f in geojson["features"]} >= {"blur"}
    y_max = max(p[1] for f in geojson["features"] for ring in f["geometry"]["coordinates"] for p in ring)
    assert y_max <= half + tiles.size0
    assert cv2.imread(str(files["artefacts"])) is not None
    # a looser focus threshold drops fewer tiles
    looser = prepare_slide(path, tmp_path / "looser", tiling=tiling_params(), artefacts=qc_params(min_focus=0.3))
    assert len(TileFile.read(looser["tiles"]).dropped) < len(tiles.dropped)


def test_the_slide_gate_excludes_a_slide_with_its_reason(blurred_slide, tmp_path):
    from slidesnake.tissue.params import QcParams

    path, _ = blurred_slide
    strict_off = default_params(QcParams, "qc", strict=False)
    gate = qc_params(max_artefact_share=0.1)
    files = prepare_slide(path, tmp_path, tiling=tiling_params(), qc=strict_off, artefacts=gate, source="mine.tiff")
    exclusion = h5_exclusion(files["tiles"])
    assert (
        exclusion.stage == TILING_STAGE and "qc.max_artefact_share" in exclusion.reason and "blur" in exclusion.reason
    )
    assert exclusion.source == "mine.tiff" and TileFile.count(files["tiles"]) == 0
    with h5py.File(files["tiles"]) as h5:
        assert h5.attrs["status"] == EXCLUDED and h5.attrs["artefact_share"] > 0.1 and len(h5[DROPPED]["coords"])
    with pytest.raises(SlideError, match="qc.max_artefact_share"):
        prepare_slide(path, tmp_path / "strict", tiling=tiling_params(), artefacts=gate)

"""Per-tile artefact measures (focus, pen ink, folds, near-white) on tiles read at a coarse pyramid level, the
per-tile decision which tiles are artefacts and the slide-level gate.

Every measure is computed on a tile's RGB pixels at `qc.artefact_mpp` (coarser than the tiles: read from the
pyramid level nearest it, never level 0 where a level serves), one batch of tiles at a time:
  focus   sharpness: the Laplacian's energy at that scale over its energy one octave coarser (the grey image
          halved), on tissue pixels. A ratio, so it does not fall with the amount of tissue or of nuclei in a
          tile, only with the loss of the finest detail; blurred tissue has less of it.
  pen     share of the tile's pixels that are green, blue or black marker ink (tissue.masking.pen_mask).
  fold    the tile's eosin density (Ruifrok-Johnston colour deconvolution, mean over its tissue pixels) over the
          slide's median tile: tissue lying twice (a fold) holds twice the eosin of its neighbours, where tumor and
          lymphocytes, just as dark, hold more haematoxylin instead. Relative to the slide, so stain intensity and
          scanner do not move it.
  white   share of the tile's pixels that are near-white (bright and unsaturated: glass, empty fat).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from slidesnake.tissue.artefact_names import (
    ARTEFACT_SHARE,
    ARTEFACTS,
    DROPPED_TILES,
    KIND_SHARES,
    MEASURES,
    MEDIAN_FOCUS,
)
from slidesnake.tissue.masking import pen_mask
from slidesnake.tissue.params import ArtefactParams

WHITE_V, WHITE_S = 215, 30  # near-white: HSV value above and saturation below these (glass ~240, S < 10)
STAIN_OD = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]])  # H, E, residual (Ruifrok)
EOSIN_FROM_OD = np.linalg.inv(STAIN_OD / np.linalg.norm(STAIN_OD, axis=1, keepdims=True))[:, 1].astype(np.float32)
MIN_FOCUS_PIXELS = 64  # fewer tissue pixels than this: the focus is not measured (NaN, never blurred)


@dataclass
class TileMeasures:
    """The measures of N tiles (float32 arrays of length N, `MEASURES`)."""

    focus: np.ndarray
    pen: np.ndarray
    fold: np.ndarray
    white: np.ndarray

    @classmethod
    def empty(cls) -> "TileMeasures":
        return cls(*(np.zeros(0, np.float32) for _ in MEASURES))

    @classmethod
    def concat(cls, parts: list["TileMeasures"]) -> "TileMeasures":
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, m) for p in parts]).astype(np.float32) for m in MEASURES))

    def take(self, index: np.ndarray) -> "TileMeasures":
        return TileMeasures(*(getattr(self, m)[index] for m in MEASURES))

    def arrays(self) -> dict[str, np.ndarray]:
        return {m: getattr(self, m) for m in MEASURES}

    def __len__(self) -> int:
        return len(self.focus)


def white_pixels(hsv: np.ndarray) -> np.ndarray:
    return (hsv[..., 2] > WHITE_V) & (hsv[..., 1] < WHITE_S)


def eosin_density(rgb: np.ndarray, tissue: np.ndarray) -> float:
    """Mean eosin optical density of the tissue pixels (linear in the optical density: the deconvolution of their
    mean); NaN without any."""
    if not tissue.any():
        return float("nan")
    od = -np.log((rgb[tissue].astype(np.float32) + 1) / 256).mean(axis=0)
    return float(od @ EOSIN_FROM_OD)


def focus(grey: np.ndarray, tissue: np.ndarray) -> float:
    """Fine over coarse Laplacian energy on tissue pixels (away from the tissue border); NaN with too few."""
    fine = cv2.Laplacian(grey, cv2.CV_32F, ksize=1)
    half = cv2.resize(grey, (grey.shape[1] // 2, grey.shape[0] // 2), interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(cv2.Laplacian(half, cv2.CV_32F, ksize=1), (grey.shape[1], grey.shape[0]))
    inner = cv2.erode(tissue.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    if inner.sum() < MIN_FOCUS_PIXELS:
        return float("nan")
    f, c = fine[inner], coarse[inner]
    return float(np.mean(f * f) / (np.mean(c * c) + 1.0))


def measure_tile(rgb: np.ndarray) -> tuple[float, float, float, float]:
    """focus, pen, eosin density (the fold measure before relative_folds) and white of one RGB uint8 tile."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    white = white_pixels(hsv)
    pen = pen_mask(rgb)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    tissue = ~white & ~pen
    return focus(grey, tissue), float(pen.mean()), eosin_density(rgb, tissue), float(white.mean())


def measure_tiles(tiles) -> TileMeasures:
    """The measures of a slide's RGB uint8 tiles (an iterable of h x w x 3 arrays), folds relative to them."""
    values = np.array([measure_tile(t) for t in tiles], np.float32).reshape(-1, len(MEASURES))
    return relative_folds(TileMeasures(*values.T))


def relative_folds(measures: TileMeasures) -> TileMeasures:
    """The measures with each tile's eosin density divided by the slide's median tile (the fold measure)."""
    finite = measures.fold[np.isfinite(measures.fold)]
    median = float(np.median(finite)) if len(finite) else 1.0
    return replace(measures, fold=(measures.fold / max(median, 1e-6)).astype(np.float32))


def artefact_flags(measures: TileMeasures, params: ArtefactParams) -> np.ndarray:
    """uint8 per tile: bit k set when the tile is an artefact of kind ARTEFACTS[k] at the thresholds of `params`
    (0: a clean tile)."""
    blur = np.nan_to_num(measures.focus, nan=np.inf) < params.min_focus
    fold = np.nan_to_num(measures.fold, nan=0.0) > params.max_fold
    kinds = (blur, measures.pen > params.max_pen, fold, measures.white > params.max_white)
    flags = np.zeros(len(measures), np.uint8)
    for bit, kind in enumerate(kinds):
        flags |= kind.astype(np.uint8) << bit
    return flags


@dataclass(frozen=True)
class SlideQc:
    """A slide's artefact summary: shares of its tissue (tissue-fraction weighted tiles) by kind and in all,
    the median focus of its tissue tiles and the tiles dropped."""

    artefact_share: float
    kind_shares: dict[str, float]
    median_focus: float
    dropped: int

    def attrs(self) -> dict:
        return {
            ARTEFACT_SHARE: self.artefact_share,
            **dict(zip(KIND_SHARES, (self.kind_shares[k] for k in ARTEFACTS), strict=True)),
            MEDIAN_FOCUS: self.median_focus,
            DROPPED_TILES: self.dropped,
        }

    def gate(self, params: ArtefactParams) -> str | None:
        """The reason the slide-level gate excludes the slide, or None when it passes."""
        if self.artefact_share > params.max_artefact_share:
            kinds = ", ".join(f"{k} {100 * s:.0f}%" for k, s in self.kind_shares.items() if s > 0)
            return (
                f"{100 * self.artefact_share:.0f}% of its tissue is artefacts ({kinds}), "
                f"above qc.max_artefact_share {100 * params.max_artefact_share:.0f}%"
            )
        if self.median_focus < params.min_slide_focus:
            return (
                f"out of focus: median tile focus {self.median_focus:.2f} "
                f"below qc.min_slide_focus {params.min_slide_focus}"
            )
        return None


def slide_qc(measures: TileMeasures, flags: np.ndarray, tissue_fraction: np.ndarray) -> SlideQc:
    """The artefact shares of a slide's tissue from its tiles' flags, weighted by their tissue fraction."""
    weight = np.asarray(tissue_fraction, np.float64)
    total = max(float(weight.sum()), 1e-9)
    shares = {kind: float(weight[(flags >> bit) & 1 == 1].sum() / total) for bit, kind in enumerate(ARTEFACTS)}
    focus_values = measures.focus[np.isfinite(measures.focus)]
    median = float(np.median(focus_values)) if len(focus_values) else float("nan")
    return SlideQc(float(weight[flags > 0].sum() / total), shares, median, int((flags > 0).sum()))


RUN_TILES = 32  # neighbouring tiles of a grid row read as one region: memory is bounded by this many tiles


def tile_runs(coords: np.ndarray, size0: int) -> list[np.ndarray]:
    """Indices of `coords` in runs of at most RUN_TILES tiles that touch along a grid row (row-major order)."""
    order = np.lexsort((coords[:, 0], coords[:, 1]))
    runs, current = [], []
    for i in order:
        if current:
            last = coords[current[-1]]
            if coords[i, 1] != last[1] or coords[i, 0] - last[0] > size0 or len(current) >= RUN_TILES:
                runs.append(np.array(current))
                current = []
        current.append(i)
    if current:
        runs.append(np.array(current))
    return runs


def measure_slide(slide, coords: np.ndarray, size0: int, mpp0: float, artefact_mpp: float) -> TileMeasures:
    """The measures of every tile (level-0 coords, side size0) of an open slide (io.slide.Slide), read at
    `artefact_mpp` from the nearest finer pyramid level, a run of touching tiles per read."""
    downsample = max(1.0, artefact_mpp / mpp0)
    side = max(8, int(round(size0 / downsample)))
    values = np.zeros((len(coords), len(MEASURES)), np.float32)
    for run in tile_runs(np.asarray(coords), size0):
        x0, y0 = (int(v) for v in coords[run[0]])
        width0 = int(coords[run[-1], 0]) + size0 - x0
        width = max(side, int(round(width0 / downsample)))
        strip = slide.read_region(x0, y0, (width0, size0), (width, side))
        for i in run:
            left = min(int(round((coords[i, 0] - x0) / downsample)), width - side)
            values[i] = measure_tile(np.ascontiguousarray(strip[:, left : left + side]))
    return relative_folds(TileMeasures(*values.T))

"""Render level-0 H&E pixels of a synthetic slide window by Beer-Lambert mixing of stain densities."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from slidesnake.demo.geometry import GRID, SlideLayout, field_crop, sample_field

TEXTURE = 1024  # period of the tiled textures, level-0 px
CELL = 1024  # nuclei are generated per cell of this size, seeded by the cell position
MARGIN = 24  # nuclei from neighbouring cells reaching into a window
EDGE_AMPLITUDE = 0.045  # ragged tissue border: fine noise added to the coarse tissue field
HEMATOXYLIN_OD = np.array([0.65, 0.70, 0.29], np.float32)
EOSIN_OD = np.array([0.07, 0.99, 0.11], np.float32)
DUST_OD = np.full(3, 0.9, np.float32)


def periodic_noise(
    rng: np.random.Generator, size: int, sigma_x: float, sigma_y: float, angle: float = 0.0
) -> np.ndarray:
    """Tileable noise with an (optionally rotated, anisotropic) Gaussian spectrum, scaled to [0, 1]."""
    freq = np.fft.fftfreq(size)
    fx, fy = np.meshgrid(freq, freq)
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * fx + s * fy, -s * fx + c * fy
    spectrum = np.exp(-2 * np.pi**2 * ((u * sigma_x) ** 2 + (v * sigma_y) ** 2))
    noise = np.fft.ifft2(np.fft.fft2(rng.standard_normal((size, size))) * spectrum).real
    noise = (noise - noise.mean()) / (noise.std() + 1e-9)
    return (1.0 / (1.0 + np.exp(-1.5 * noise))).astype(np.float32)


def tile2(texture: np.ndarray) -> np.ndarray:
    return np.tile(texture, (2, 2) + (1,) * (texture.ndim - 2))


def window(texture2: np.ndarray, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    """Window of a 2x2-tiled periodic texture at level-0 position (x0, y0); w, h <= period."""
    period = texture2.shape[0] // 2
    ox, oy = x0 % period, y0 % period
    return texture2[oy : oy + h, ox : ox + w]


@dataclass
class Stain:
    """Per-slide scanner and stain batch: stain vectors, intensities, glass colour."""

    hematoxylin: np.ndarray
    eosin: np.ndarray
    glass: np.ndarray

    @classmethod
    def random(cls, rng: np.random.Generator, site: int = 0, site_shift: float = 0.0) -> "Stain":
        """A slide's stain: its site's stain batch (a shift of the stain vectors and glass tint shared by the
        site's slides, `site_shift` times a fixed random direction per site) plus per-slide jitter."""
        site_rng = np.random.default_rng([site, 77])
        site_h, site_e = (site_shift * site_rng.normal(0, 1, 3) for _ in range(2))
        site_glass = site_shift * site_rng.normal(0, 40, 3)

        def jitter(vector, offset):
            v = np.clip(vector + offset + rng.normal(0, 0.06, 3), 0.02, None)
            return (v / np.linalg.norm(v) * rng.uniform(0.85, 1.2)).astype(np.float32)

        glass = np.clip(rng.normal([243, 240, 242], 4) + site_glass, 200, 252).astype(np.float32)
        return cls(jitter(HEMATOXYLIN_OD, site_h), jitter(EOSIN_OD, site_e), glass)


class SlideRenderer:
    """Deterministic renderer: the same (seed, window) always gives the same pixels."""

    def __init__(self, layout: SlideLayout, seed: int, atypia: float = 1.0, site: int = 0, site_shift: float = 0.0):
        self.layout = layout
        self.seed = seed
        self.atypia = atypia  # 1: tumor nuclei large, dark, dense and irregular; 0: like benign tissue
        rng = np.random.default_rng([seed, 1])
        self.stain = Stain.random(rng, site, site_shift)
        angle = rng.uniform(0, np.pi)
        self.fibres = [tile2(periodic_noise(rng, TEXTURE, 14, 1.6, angle + d) ** 1.5) for d in (0.0, 1.1)]
        self.edge_noise = tile2(periodic_noise(rng, TEXTURE, 18, 18) * 2 - 1)
        self.chromatin = tile2(periodic_noise(rng, TEXTURE, 1.2, 1.2) * 0.7 + 0.65)
        self.pixel_noise = tile2(rng.normal(0, 2.2, (TEXTURE, TEXTURE, 3)).astype(np.float32))

    def masks(self, x0: int, y0: int, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        """Boolean level-0 tissue and tumor masks of a window."""
        if field_crop(self.layout.tissue, x0, y0, w, h).max() < -EDGE_AMPLITUDE:
            empty = np.zeros((h, w), bool)
            return empty, empty
        edge = window(self.edge_noise, x0, y0, w, h)
        tissue = (sample_field(self.layout.tissue, x0, y0, w, h) + EDGE_AMPLITUDE * edge) > 0
        if (self.layout.tumor <= -0.5).all():
            return tissue, np.zeros_like(tissue)
        tumor = tissue & ((sample_field(self.layout.tumor, x0, y0, w, h) - 0.05 * edge) > 0)
        return tissue, tumor

    def _cell_nuclei(self, cx: int, cy: int) -> np.ndarray:
        """Nuclei of one cell: rows of x, y, radius_a, radius_b, angle, darkness, irregularity."""
        rng = np.random.default_rng([self.seed, 2, cx + 1, cy + 1])  # cells start at -1
        n = rng.poisson(CELL * CELL / 280)
        xs = (cx + rng.random(n)) * CELL
        ys = (cy + rng.random(n)) * CELL
        grid_xy = np.stack([xs / GRID - 0.5, ys / GRID - 0.5], 1).astype(np.float32)[None]
        tissue = cv2.remap(self.layout.tissue, grid_xy, None, cv2.INTER_LINEAR, borderValue=-1.0)[0]
        tumor = cv2.remap(self.layout.tumor, grid_xy, None, cv2.INTER_LINEAR, borderValue=-1.0)[0]
        in_tumor = tumor > 0
        a = self.atypia

        def mix(tumor_value, normal_value):
            """Tumor nuclei's parameter at this atypia: the tumor value at 1, the benign value at 0."""
            return tumor_value * a + normal_value * (1 - a)

        keep_p = np.where(in_tumor, mix(1.0, 0.45), 0.45) * (tissue > -0.02)
        keep = rng.random(n) < keep_p
        xs, ys, in_tumor = xs[keep], ys[keep], in_tumor[keep]
        m = len(xs)
        lymph = ~in_tumor & (rng.random(m) < 0.12)
        size = np.where(
            in_tumor,
            rng.uniform(mix(4.8, 2.6), mix(8.5, 4.0), m),
            np.where(lymph, rng.uniform(2.3, 3.0, m), rng.uniform(2.6, 4.0, m)),
        )
        aspect = np.where(
            in_tumor, rng.uniform(mix(1.0, 1.4), mix(1.6, 3.0), m), np.where(lymph, 1.0, rng.uniform(1.4, 3.0, m))
        )
        darkness = np.where(
            in_tumor, rng.uniform(mix(1.15, 0.8), mix(1.6, 1.1), m), np.where(lymph, 1.5, rng.uniform(0.8, 1.1, m))
        )
        irregular = np.where(in_tumor, mix(0.22, 0.06), 0.06)
        angle = rng.uniform(0, np.pi, m)
        return np.column_stack([xs, ys, size * np.sqrt(aspect), size / np.sqrt(aspect), angle, darkness, irregular])

    def _nuclei_layer(self, x0: int, y0: int, w: int, h: int) -> np.ndarray:
        layer = np.zeros((h, w), np.float32)
        cells = [
            (cx, cy)
            for cy in range((y0 - MARGIN) // CELL, (y0 + h + MARGIN) // CELL + 1)
            for cx in range((x0 - MARGIN) // CELL, (x0 + w + MARGIN) // CELL + 1)
        ]
        nuclei = np.concatenate([self._cell_nuclei(cx, cy) for cx, cy in cells])
        near = (
            (nuclei[:, 0] > x0 - MARGIN)
            & (nuclei[:, 0] < x0 + w + MARGIN)
            & (nuclei[:, 1] > y0 - MARGIN)
            & (nuclei[:, 1] < y0 + h + MARGIN)
        )
        nuclei = nuclei[near]
        if not len(nuclei):
            return layer
        rng = np.random.default_rng([self.seed, 3, x0, y0])
        k = 10
        theta = np.linspace(0, 2 * np.pi, k, endpoint=False)
        wobble = 1 + nuclei[:, 6:7] * rng.standard_normal((len(nuclei), k))
        u = nuclei[:, 2:3] * wobble * np.cos(theta)
        v = nuclei[:, 3:4] * wobble * np.sin(theta)
        c, s = np.cos(nuclei[:, 4:5]), np.sin(nuclei[:, 4:5])
        px = (nuclei[:, 0:1] - x0 + c * u - s * v) * 4
        py = (nuclei[:, 1:2] - y0 + s * u + c * v) * 4
        polygons = np.stack([px, py], -1).round().astype(np.int32)
        for polygon, dark in zip(polygons, nuclei[:, 5].tolist(), strict=False):
            cv2.fillPoly(layer, [polygon], dark, lineType=cv2.LINE_8, shift=2)
        return cv2.GaussianBlur(layer, (0, 0), 0.7)

    def render(self, x0: int, y0: int, w: int, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """RGB uint8 pixels and boolean tissue / tumor masks of a level-0 window."""
        layout, stain = self.layout, self.stain
        tissue, tumor = self.masks(x0, y0, w, h)
        hema = eosin = None
        if tissue.any():
            weight = np.clip(0.5 + sample_field(layout.tissue, x0 + 5000, y0, w, h), 0, 1)  # decorrelated
            fibre = weight * window(self.fibres[0], x0, y0, w, h) + (1 - weight) * window(self.fibres[1], x0, y0, w, h)
            tumor_f = tumor.astype(np.float32) * np.float32(self.atypia)
            tissue_f = tissue.astype(np.float32)
            nuclei = self._nuclei_layer(x0, y0, w, h) * window(self.chromatin, x0, y0, w, h)
            hema = tissue_f * (0.07 + 0.13 * tumor_f + 0.95 * nuclei)
            eosin = tissue_f * ((0.12 + 0.55 * fibre) * (1 - 0.45 * tumor_f) + 0.1 * tumor_f)
            for fold in layout.folds:
                fold_mask = np.zeros((h, w), np.uint8)
                cv2.fillPoly(fold_mask, [fold - np.array([x0, y0], np.int32)], 1)
                if fold_mask.any():
                    thick = 1 + np.float32(0.9) * fold_mask
                    hema, eosin = hema * thick, eosin * thick
        if hema is not None:
            hema, eosin = hema.astype(np.float32, copy=False), eosin.astype(np.float32, copy=False)
        extra = self._artefact_density(x0, y0, w, h)
        noise = window(self.pixel_noise, x0, y0, w, h)
        channels = []
        for c in range(3):
            if hema is None and extra is None:
                channels.append(np.full((h, w), stain.glass[c], np.float32) + noise[..., c])
                continue
            od = (
                np.zeros((h, w), np.float32)
                if hema is None
                else cv2.addWeighted(hema, float(stain.hematoxylin[c]), eosin, float(stain.eosin[c]), 0.0)
            )
            if extra is not None:
                od = cv2.scaleAdd(extra[0], float(extra[1][c]), od)
            channels.append(cv2.scaleAdd(cv2.exp(-od), float(stain.glass[c]), np.ascontiguousarray(noise[..., c])))
        rgb = cv2.convertScaleAbs(cv2.merge(channels))
        for axis, start, stop in layout.blur_bands:
            lo, hi = (x0, x0 + w) if axis == 0 else (y0, y0 + h)
            a, b = max(start, lo) - lo, min(stop, hi) - lo
            if a < b:
                band = rgb[:, a:b] if axis == 0 else rgb[a:b]
                band[...] = cv2.GaussianBlur(band, (0, 0), 3.0)
        return rgb, tissue, tumor

    def _artefact_density(self, x0: int, y0: int, w: int, h: int):
        """Pen and dust optical density of a window as (coverage map, per-channel OD), or None."""
        coverage, colour = None, None
        for stroke, thickness, pen_od in self.layout.pen_strokes:
            pen = np.zeros((h, w), np.float32)
            cv2.polylines(pen, [stroke - np.array([x0, y0], np.int32)], False, 1.0, thickness, cv2.LINE_AA)
            if pen.any():
                coverage, colour = pen, np.array(pen_od, np.float32) * 0.8
        for x, y, r in self.layout.dust:
            if x0 - r <= x < x0 + w + r and y0 - r <= y < y0 + h + r:
                if coverage is None:
                    coverage, colour = np.zeros((h, w), np.float32), DUST_OD
                cv2.circle(coverage, (int(x - x0), int(y - y0)), int(r), 1.0, -1, cv2.LINE_AA)
        return None if coverage is None else (coverage, colour)

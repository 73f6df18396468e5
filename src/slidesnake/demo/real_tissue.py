"""Labelled cohorts built from real H&E tissue, with known tile truth: the real-tissue testbed.

Tumor tissue comes from one real slide (the TCGA head-and-neck squamous cell carcinoma frozen section in
../shared/data), benign tissue from another (CMU-1-Small-Region, skin). Both are brought to one scale
(TILE_MPP: CMU-1 declares 0.499 um/px and is downsampled 2x; the TCGA file declares none and its nuclei are
half the size of CMU-1's in pixels, so its level 0 is taken as about 1 um/px) and to one colour (Reinhard
matching of both to their pooled LAB statistics), so that neither colour nor sharpness alone gives the
label away. A pool of tiles is rendered from them: benign tiles, tumor tiles and mixed tiles (an irregular
tumor / benign border with a known tumor share), each a randomly rotated, flipped, slightly rescaled crop,
under a few staining "sites" (a colour shift per site, shared by all tiles of a slide). The pool is encoded
once with a workflow encoder; cohorts are then assembled at the feature level from it: each slide gets a
tissue layout and tumor regions covering a set share of its tissue (the demo's layout code), each grid tile
takes a pool tile of its slide's site whose tumor share matches the layout there, and PANDA-style partial
annotations mark part of the tumor. Truth, annotation and coordinates are known per tile.

What it cannot show: the benign tissue of a whole cohort comes from one 1.1 x 1.5 mm region, and the tumor
from one 4.4 x 3.6 mm section, so tissue variety across slides is far smaller than in a real cohort (tiles
of different slides are crops of the same tissue), and every tumor is the same tumor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from slidesnake.core.errors import InputFileError
from slidesnake.core.labels import TRUTH_TUMOR_SHARE, TUMOR
from slidesnake.demo.geometry import GRID, make_layout

TILE_MPP = 1.0  # the pool's resolution (a 512 px tile at 0.5 um/px resized to 224 is 1.14)
TILE_PX = 224  # pool tile side at TILE_MPP: the encoders' input size, no resize
BENIGN_SOURCE = "CMU-1-Small-Region.svs"
TUMOR_SOURCE = "TCGA-CR-7395-01A-01-TS1.svs"
SOURCE_MPP = {BENIGN_SOURCE: None, TUMOR_SOURCE: 1.0}  # None: the file's own mpp; TCGA: estimated (above)
MIN_CROP_TISSUE = 0.85  # share of a crop that must be tissue
PURE = 0.1  # a layout tile with a tumor share below this (or above 1 - this) is pure


@dataclass(frozen=True)
class PoolSpec:
    """How many tiles of each kind the pool renders per staining site."""

    sites: int = 3
    benign: int = 300
    tumor: int = 150
    mixed: int = 120
    site_shift: float = 6.0  # sd of a site's LAB shift (a, b channels; L gets half)
    seed: int = 0


@dataclass
class TilePool:
    """Encoded pool tiles: features with each tile's site and tumor share (0 benign, 1 tumor)."""

    features: np.ndarray  # tiles x dim, float32
    site: np.ndarray  # tiles, int
    tumor_share: np.ndarray  # tiles, float32
    encoder: str
    spec: PoolSpec


@dataclass
class TissueCohort:
    """A cohort assembled from a pool (the fields SimulatedCohort has, plus tumor shares and coordinates)."""

    features: dict[str, np.ndarray]
    labels: dict[str, int]
    tumor: dict[str, np.ndarray]  # truth tumor tile (tumor share >= TRUTH_TUMOR_SHARE)
    annotated: dict[str, np.ndarray]  # annotated tumor tile (a subset of tumor tiles)
    tumor_share: dict[str, np.ndarray]
    coords: dict[str, np.ndarray]  # tile grid position x TILE_PX (px at TILE_MPP)
    site: dict[str, int]
    tumor_fraction: dict[str, float] = field(default_factory=dict)  # of the slide's tissue, as drawn

    def slides(self) -> list[str]:
        return list(self.features)

    def true_prior_of_unlabeled(self) -> float:
        u = [self.tumor[s][~self.annotated[s]] for s in self.slides() if self.labels[s]]
        return float(np.concatenate(u).mean()) if u else 0.0


def read_source(path: Path, mpp: float | None) -> np.ndarray:
    """A whole (small) slide as RGB at TILE_MPP."""
    import openslide

    with openslide.OpenSlide(str(path)) as slide:
        mpp = mpp or float(slide.properties[openslide.PROPERTY_NAME_MPP_X])
        rgba = np.asarray(slide.read_region((0, 0), 0, slide.dimensions))
    rgb = rgba[..., :3].copy()
    rgb[rgba[..., 3] == 0] = 255
    scale = mpp / TILE_MPP
    size = (int(round(rgb.shape[1] * scale)), int(round(rgb.shape[0] * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def source_tissue(rgb: np.ndarray) -> np.ndarray:
    """Tissue by Otsu on saturation, closed and without specks (boolean, same size)."""
    saturation = cv2.medianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1], 5)
    threshold, _ = cv2.threshold(saturation, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = (saturation > max(threshold, 20)).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    return mask.astype(bool)


def lab_statistics(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)[mask]
    return lab.mean(0), lab.std(0) + 1e-3


def match_colour(rgb: np.ndarray, mask: np.ndarray, target: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Reinhard: the tissue's LAB mean and std moved to `target` (glass stays glass)."""
    mean, std = lab_statistics(rgb, mask)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    matched = (lab - mean) / std * target[1] + target[0]
    out = cv2.cvtColor(np.clip(matched, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    return np.where(mask[..., None], out, rgb)


@dataclass
class Source:
    rgb: np.ndarray
    tissue: np.ndarray
    centres: np.ndarray  # candidate crop centres (y, x) deep enough in tissue


def load_sources(data_dir: Path) -> dict[str, Source]:
    """Benign and tumor tissue at one scale and one colour; a missing source file is an InputFileError."""
    images = {}
    for kind, name in (("benign", BENIGN_SOURCE), ("tumor", TUMOR_SOURCE)):
        path = Path(data_dir) / name
        if not path.exists():
            raise InputFileError(path, "missing: the real-tissue testbed reads the two real slides of ../shared/data")
        rgb = read_source(path, SOURCE_MPP[name])
        images[kind] = (rgb, source_tissue(rgb))
    stats = [lab_statistics(rgb, mask) for rgb, mask in images.values()]
    target = (np.mean([s[0] for s in stats], axis=0), np.mean([s[1] for s in stats], axis=0))
    sources = {}
    for kind, (rgb, mask) in images.items():
        depth = cv2.blur(mask.astype(np.float32), (TILE_PX, TILE_PX))
        centres = np.argwhere(depth >= MIN_CROP_TISSUE)
        sources[kind] = Source(match_colour(rgb, mask, target), mask, centres)
    return sources


def random_crop(source: Source, rng: np.random.Generator) -> np.ndarray:
    """A TILE_PX crop around a tissue centre, rotated by any angle, maybe flipped, rescaled by +-8%."""
    for _ in range(50):
        cy, cx = source.centres[rng.integers(len(source.centres))]
        matrix = cv2.getRotationMatrix2D((float(cx), float(cy)), rng.uniform(0, 360), rng.uniform(0.92, 1.08))
        shift = np.array([TILE_PX / 2 - cx, TILE_PX / 2 - cy])  # the crop's centre to the tile's centre
        matrix = np.concatenate([matrix[:, :2], matrix[:, 2:] + shift[:, None]], axis=1)
        tissue = cv2.warpAffine(source.tissue.astype(np.uint8), matrix, (TILE_PX, TILE_PX), flags=cv2.INTER_NEAREST)
        if tissue.mean() >= MIN_CROP_TISSUE:
            crop = cv2.warpAffine(
                source.rgb, matrix, (TILE_PX, TILE_PX), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255)
            )
            return crop[:, ::-1].copy() if rng.random() < 0.5 else crop
    raise RuntimeError("real-tissue testbed: no crop with enough tissue found in 50 tries")


def border_mask(share: float, rng: np.random.Generator) -> np.ndarray:
    """A soft irregular region covering `share` of a tile (a smooth random field thresholded)."""
    gradient = np.linspace(-1, 1, TILE_PX, dtype=np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    plane = math.cos(angle) * gradient[None, :] + math.sin(angle) * gradient[:, None]
    noise = cv2.GaussianBlur(rng.standard_normal((TILE_PX, TILE_PX)).astype(np.float32), (0, 0), 18)
    field_ = plane + 2.5 * noise / (noise.std() + 1e-6) * 0.25
    mask = (field_ >= np.quantile(field_, 1 - share)).astype(np.float32)
    return cv2.GaussianBlur(mask, (0, 0), 2)


def site_shift(rng: np.random.Generator, sd: float) -> np.ndarray:
    return rng.normal(0, sd, 3) * np.array([0.5, 1.0, 1.0])


def stained(rgb: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """The tile under a site's colour shift (LAB), glass left white."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    glass = lab[..., 0] > 235
    lab[~glass] += shift.astype(np.float32)
    return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def render_pool_tiles(sources: dict[str, Source], spec: PoolSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 tiles (N x TILE_PX x TILE_PX x 3), their site and their tumor share."""
    rng = np.random.default_rng(spec.seed)
    tiles, sites, shares = [], [], []
    for site in range(spec.sites):
        shift = site_shift(rng, spec.site_shift)
        for kind, count in (("benign", spec.benign), ("tumor", spec.tumor), ("mixed", spec.mixed)):
            for _ in range(count):
                if kind == "mixed":
                    share = rng.uniform(PURE, 1 - PURE)
                    mask = border_mask(share, rng)[..., None]
                    tile = mask * random_crop(sources["tumor"], rng) + (1 - mask) * random_crop(sources["benign"], rng)
                    tile, share = tile.astype(np.uint8), float(mask.mean())
                else:
                    tile, share = random_crop(sources[kind], rng), float(kind == "tumor")
                tiles.append(stained(tile, shift))
                sites.append(site)
                shares.append(share)
    return np.stack(tiles), np.array(sites), np.array(shares, np.float32)


def encode_tiles(tiles: np.ndarray, encoder: str, weights: str, batch_size: int = 32, seed: int = 0) -> np.ndarray:
    """Features of uint8 tiles with a workflow encoder (the features stage's preprocessing)."""
    import torch

    from slidesnake.core.logs import progress
    from slidesnake.features.encoders import build_encoder
    from slidesnake.features.extract import preprocess

    model, spec, _ = build_encoder(encoder, weights, seed)
    out = []
    with torch.inference_mode():
        for start in progress(range(0, len(tiles), batch_size), f"encoding pool ({encoder})", "batch"):
            batch = torch.from_numpy(tiles[start : start + batch_size]).permute(0, 3, 1, 2).contiguous()
            out.append(model(preprocess(batch, spec)).float().numpy())
    return np.concatenate(out)


def build_pool(
    data_dir: Path, spec: PoolSpec, encoder: str = "resnet50_trunc", weights: str = "random", cache: Path | None = None
) -> TilePool:
    """Render and encode the pool, or read it from `cache` (an .npz written by an earlier call with the same
    spec, encoder and weights)."""
    key = (
        f"{encoder}-{weights.replace('/', '_')}-{spec.sites}-{spec.benign}-{spec.tumor}-{spec.mixed}-"
        f"{spec.site_shift}-{spec.seed}"
    )
    path = None if cache is None else Path(cache) / f"pool-{key}.npz"
    if path is not None and path.exists():
        stored = np.load(path)
        return TilePool(stored["features"], stored["site"], stored["tumor_share"], encoder, spec)
    tiles, sites, shares = render_pool_tiles(load_sources(data_dir), spec)
    features = encode_tiles(tiles, encoder, weights, seed=spec.seed).astype(np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".part.npz")
        np.savez(tmp, features=features, site=sites, tumor_share=shares)
        tmp.replace(path)
        preview = Path(cache) / f"pool-{key}-preview.jpg"
        cv2.imwrite(str(preview), cv2.cvtColor(pool_preview(tiles, shares, sites), cv2.COLOR_RGB2BGR))
    return TilePool(features, sites, shares, encoder, spec)


def pool_preview(tiles: np.ndarray, shares: np.ndarray, sites: np.ndarray, per_row: int = 8) -> np.ndarray:
    """One row of benign, mixed and tumor tiles per site, downsized to half."""
    rows = []
    for site in np.unique(sites):
        picks = []
        for low, high in ((0, 0), (PURE, 1 - PURE), (1, 1)):
            index = np.flatnonzero((sites == site) & (shares >= low) & (shares <= high))[: per_row // 3 + 1]
            picks.extend(index)
        row = [cv2.resize(tiles[i], (TILE_PX // 2, TILE_PX // 2), interpolation=cv2.INTER_AREA) for i in picks]
        rows.append(np.concatenate(row, axis=1))
    width = max(r.shape[1] for r in rows)
    return np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])


@dataclass(frozen=True)
class CohortSpec:
    """A cohort assembled from a pool: slides, tumor burden and annotations."""

    n_slides: int = 48
    positive_share: float = 0.5
    slide_px: int = 4096  # side at TILE_MPP (8,192 px at 0.5 um/px)
    tumor_fraction: tuple[float, float] = (0.03, 0.25)  # of a tumor slide's tissue
    annotated_fraction: float = 0.3  # PANDA-style: share of the tumor area annotated
    min_tissue: float = 0.5  # a grid tile is kept with at least this tissue share
    seed: int = 0


def layout_tiles(layout_tissue: np.ndarray, layout_tumor: np.ndarray, annotation: np.ndarray, min_tissue: float):
    """Per grid tile of TILE_PX: grid position, tissue, tumor and annotated-tumor shares (cells of GRID px)."""
    cells = TILE_PX // GRID
    rows, cols = layout_tissue.shape[0] // cells, layout_tissue.shape[1] // cells

    def per_tile(field_):
        return field_[: rows * cells, : cols * cells].reshape(rows, cells, cols, cells).mean((1, 3)).ravel()

    tissue = per_tile(layout_tissue.astype(np.float32))
    tumor = per_tile(layout_tumor.astype(np.float32)) / np.maximum(tissue, 1e-6)
    annotated = per_tile(annotation.astype(np.float32)) / np.maximum(tissue, 1e-6)
    keep = tissue >= min_tissue
    grid = np.stack(np.divmod(np.arange(rows * cols), cols), axis=1)[:, ::-1]  # x (col), y (row)
    return grid[keep], np.clip(tumor[keep], 0, 1), np.clip(annotated[keep], 0, 1)


def pick_pool_tiles(pool: TilePool, site: int, shares: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each layout tile, a pool tile of `site` with a matching tumor share (without repeats while the
    pool lasts): pure benign, pure tumor, or the mixed tile nearest in share among a few random candidates."""
    index = np.empty(len(shares), int)
    of_site = pool.site == site
    benign = np.flatnonzero(of_site & (pool.tumor_share == 0))
    tumor = np.flatnonzero(of_site & (pool.tumor_share == 1))
    mixed = np.flatnonzero(of_site & (pool.tumor_share > 0) & (pool.tumor_share < 1))
    kinds = np.where(shares < PURE, 0, np.where(shares > 1 - PURE, 2, 1))
    for kind, candidates in ((0, benign), (2, tumor)):
        where = np.flatnonzero(kinds == kind)
        index[where] = rng.choice(candidates, len(where), replace=len(where) > len(candidates))
    for i in np.flatnonzero(kinds == 1):
        options = rng.choice(mixed, min(8, len(mixed)), replace=False)
        index[i] = options[np.argmin(np.abs(pool.tumor_share[options] - shares[i]))]
    return index


def assemble_cohort(pool: TilePool, spec: CohortSpec) -> TissueCohort:
    """Slides at the feature level from the pool (see the module docstring); slide k's site is random."""
    from slidesnake.demo.cohort import partial_annotation

    rng = np.random.default_rng(spec.seed)
    n_positive = int(round(spec.n_slides * spec.positive_share))
    labels_ = rng.permutation([1] * n_positive + [0] * (spec.n_slides - n_positive))
    cohort = TissueCohort({}, {}, {}, {}, {}, {}, {})
    for k, label in enumerate(labels_):
        slide = f"rt{spec.seed:02d}_{k:03d}"
        fraction = float(rng.uniform(*spec.tumor_fraction)) if label else 0.0
        layout = make_layout(rng, spec.slide_px, spec.slide_px, fraction, artefacts=False)
        tissue, tumor = layout.tissue > 0, (layout.tumor > 0) & (layout.tissue > 0)
        truth = np.where(tumor, TUMOR, np.where(tissue, 1, 0)).astype(np.uint8)
        annotation = partial_annotation(truth, spec.annotated_fraction, rng) == TUMOR
        grid, shares, annotated = layout_tiles(tissue, tumor, annotation, spec.min_tissue)
        site = int(rng.integers(pool.spec.sites))
        picks = pick_pool_tiles(pool, site, shares, rng)
        cohort.features[slide] = pool.features[picks]
        cohort.labels[slide] = int(label)
        cohort.tumor_share[slide] = pool.tumor_share[picks]
        cohort.tumor[slide] = cohort.tumor_share[slide] >= TRUTH_TUMOR_SHARE
        cohort.annotated[slide] = (annotated >= 0.5) & cohort.tumor[slide]
        cohort.coords[slide] = grid * TILE_PX
        cohort.site[slide] = site
        cohort.tumor_fraction[slide] = float(tumor.sum() / max(1, tissue.sum()))
    return cohort

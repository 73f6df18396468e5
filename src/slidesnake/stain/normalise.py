"""Stain normalisation of tile batches, in torch on the tiles' device: Macenko (stain vectors and
concentration scale in optical density) and Reinhard (mean and spread in l-alpha-beta, Reinhard et al. 2001).

Every function takes float N x 3 x H x W tiles on the 0-255 scale. Each tile is fitted on its own stained
pixels (optical density above `OD_THRESHOLD` in every channel, on a subsample of at most `FIT_PIXELS`
pixels); a tile with fewer than `MIN_STAINED_SHARE` stained pixels, or a fit that is not finite, passes
through unchanged, so near-white tiles never produce artefacts and no output is NaN. With a slide fit
(StainNormaliser.for_slide, an encoder's stain_fit: slide) every tile of the slide is mapped with the one fit
of tiles sampled over it instead."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from slidesnake.core.atomic import atomic_output
from slidesnake.core.errors import ConfigError
from slidesnake.stain.methods import MACENKO, METHODS, REINHARD
from slidesnake.stain.optical_density import optical_density

log = logging.getLogger(__name__)

OD_THRESHOLD = 0.15  # Macenko et al.'s beta: lower optical density is glass or noise
MIN_STAINED_SHARE = 0.05  # tiles with fewer stained pixels pass through unchanged
FIT_PIXELS = 16384  # pixels of a tile used to fit it (an even subsample); every pixel is transformed
PERCENTILE = 0.01  # Macenko's robust extreme angles and maximum concentrations (1st / 99th)


def fit_pixels(tiles: torch.Tensor) -> torch.Tensor:
    """An even pixel subsample of each tile, N x P x 3 (P <= FIT_PIXELS)."""
    n, _, h, w = tiles.shape
    step = max(1, math.ceil(math.sqrt(h * w / FIT_PIXELS)))
    return tiles[:, :, ::step, ::step].reshape(n, 3, -1).transpose(1, 2).float()


def stained(od: torch.Tensor) -> torch.Tensor:
    """N x P mask of stained pixels: mean optical density over the channels above OD_THRESHOLD (Macenko's
    rule asks it of every channel, which drops all pixels of a stain that barely absorbs one channel)."""
    return od.mean(-1) > OD_THRESHOLD


def masked_quantile(values: torch.Tensor, mask: torch.Tensor, q: float) -> torch.Tensor:
    """Per-row quantile of the masked entries of N x P (x K) values (NaN where a row has none)."""
    masked = values.masked_fill(~(mask if values.dim() == mask.dim() else mask[..., None]), float("nan"))
    return torch.nanquantile(masked, q, dim=1)


# Ruifrok & Johnston's haematoxylin and eosin OD vectors (columns): stands in for tiles that cannot be fitted
DEFAULT_STAIN_MATRIX = torch.nn.functional.normalize(torch.tensor([[0.65, 0.07], [0.70, 0.99], [0.29, 0.11]]), dim=0)


# --- Macenko ---------------------------------------------------------------------------------------


def macenko_fit(tiles: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Per tile: stain matrix (N x 3 x 2, unit OD vectors of haematoxylin then eosin) and the 99th
    percentile concentration of each stain (N x 2); and which tiles have enough stain to be fitted."""
    od = optical_density(fit_pixels(tiles)).double()
    mask = stained(od)
    counts = mask.sum(1)
    valid = counts >= max(3, MIN_STAINED_SHARE * od.shape[1])
    weights = mask.double()
    denominator = counts.clamp_min(2).double()
    mean = (od * weights[..., None]).sum(1) / denominator[:, None]
    centred = (od - mean[:, None]) * weights[..., None]
    covariance = centred.transpose(1, 2) @ centred / (denominator - 1)[:, None, None]
    covariance = covariance + torch.eye(3, dtype=od.dtype, device=od.device) * 1e-9
    _, vectors = torch.linalg.eigh(covariance)
    plane = vectors[:, :, 1:]  # two largest eigenvalues
    plane = plane * torch.where(plane.sum(1, keepdim=True) < 0, -1.0, 1.0)  # point into positive OD
    projected = od @ plane  # N x P x 2
    angles = torch.atan2(projected[..., 1], projected[..., 0])
    low = masked_quantile(angles, mask, PERCENTILE)
    high = masked_quantile(angles, mask, 1 - PERCENTILE)
    ends = [plane @ torch.stack([torch.cos(a), torch.sin(a)], -1)[..., None] for a in (low, high)]
    first, second = (e[..., 0] for e in ends)  # N x 3
    haematoxylin_first = (first[:, 0] >= second[:, 0])[:, None]  # haematoxylin absorbs more red
    haematoxylin = torch.where(haematoxylin_first, first, second)
    eosin = torch.where(haematoxylin_first, second, first)
    matrix = torch.stack([haematoxylin, eosin], -1)
    matrix = matrix / matrix.norm(dim=1, keepdim=True).clamp_min(1e-12)
    valid &= torch.isfinite(matrix).all((1, 2)) & (matrix >= -0.05).all((1, 2))
    valid &= torch.linalg.matrix_rank(torch.nan_to_num(matrix)) == 2
    matrix = torch.where(valid[:, None, None], matrix, DEFAULT_STAIN_MATRIX.to(matrix))  # keeps pinv finite
    concentrations = od @ torch.linalg.pinv(matrix).transpose(1, 2)  # N x P x 2
    max_concentration = masked_quantile(concentrations, mask, 1 - PERCENTILE)
    valid &= torch.isfinite(max_concentration).all(1) & (max_concentration > 1e-3).all(1)
    return {"stain_matrix": matrix.float(), "max_concentration": max_concentration.float()}, valid


def macenko_apply(tiles: torch.Tensor, fitted: dict, reference: dict) -> torch.Tensor:
    """Every pixel's stain concentrations, scaled to the reference's maxima and re-mixed with its vectors:
    one 3 x 3 map of optical density per tile (unmixing, scaling and mixing composed)."""
    scale = reference["max_concentration"].to(tiles) / fitted["max_concentration"]  # N x 2
    unmix = torch.linalg.pinv(fitted["stain_matrix"])  # N x 2 x 3
    od_map = reference["stain_matrix"].to(tiles) @ (scale[..., None] * unmix)  # N x 3 x 3
    return map_channels(tiles, od_map)


def map_channels(
    tiles: torch.Tensor,
    matrix: torch.Tensor,
    offset: torch.Tensor | None = None,
    before: torch.Tensor | None = None,
    after: torch.Tensor | None = None,
) -> torch.Tensor:
    """rgb -> (before) -> optical density -> matrix, offset -> back from optical density -> (after): the
    shape both normalisers share, over N x 3 x HW channel-first pixels."""
    n, _, h, w = tiles.shape
    x = tiles.reshape(n, 3, h * w).float()
    if before is not None:
        x = before.to(x) @ x
    od = x.clamp(0, 255).add_(1).div_(256).log_().neg_()
    od = matrix.to(od) @ od
    if offset is not None:
        od += offset.to(od)[..., None]
    x = od.neg_().exp_().mul_(256).sub_(1)
    if after is not None:
        x = after.to(x) @ x
    return x.clamp_(0, 255).reshape(n, 3, h, w)


# --- Reinhard --------------------------------------------------------------------------------------
# Reinhard et al. 2001: colour statistics in the decorrelated l-alpha-beta space of log cone responses.

_RGB_TO_LMS = torch.tensor([[0.3811, 0.5783, 0.0402], [0.1967, 0.7244, 0.0782], [0.0241, 0.1288, 0.8444]])
_LMS_TO_LAB = torch.diag(torch.tensor([3**-0.5, 6**-0.5, 2**-0.5])) @ torch.tensor(
    [[1.0, 1.0, 1.0], [1.0, 1.0, -2.0], [1.0, -1.0, 0.0]]
)


def lalphabeta(pixels: torch.Tensor) -> torch.Tensor:
    """N x P x 3 RGB (0-255) -> l-alpha-beta of the log cone responses (in optical density units)."""
    lms = pixels @ _RGB_TO_LMS.to(pixels).T
    return optical_density(lms) @ _LMS_TO_LAB.to(pixels).T


def reinhard_fit(tiles: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Per tile: l-alpha-beta mean and standard deviation of its stained pixels (N x 3 each)."""
    pixels = fit_pixels(tiles)
    mask = stained(optical_density(pixels))
    counts = mask.sum(1)
    weights = mask.float()[..., None]
    lab = lalphabeta(pixels)
    mean = (lab * weights).sum(1) / counts.clamp_min(1)[:, None]
    std = (((lab - mean[:, None]) ** 2 * weights).sum(1) / counts.clamp_min(2)[:, None]).sqrt()
    valid = (counts >= max(3, MIN_STAINED_SHARE * pixels.shape[1])) & torch.isfinite(mean).all(1)
    valid &= torch.isfinite(std).all(1) & (std > 1e-4).all(1)
    return {"lab_mean": mean, "lab_std": std}, valid


def reinhard_apply(tiles: torch.Tensor, fitted: dict, reference: dict) -> torch.Tensor:
    """Every pixel's l-alpha-beta moved from the tile's mean / spread to the reference's: one affine map of
    log cone responses per tile."""
    ratio = (reference["lab_std"].to(tiles) / fitted["lab_std"]).clamp(0.25, 4.0)  # N x 3
    to_lab, rgb_to_lms = _LMS_TO_LAB.to(tiles), _RGB_TO_LMS.to(tiles)
    from_lab = torch.linalg.inv(to_lab)
    matrix = from_lab @ (ratio[..., None] * to_lab)  # N x 3 x 3
    offset = (reference["lab_mean"].to(tiles) - ratio * fitted["lab_mean"]) @ from_lab.T  # N x 3
    return map_channels(tiles, matrix, offset, before=rgb_to_lms, after=torch.linalg.inv(rgb_to_lms))


FIT = {MACENKO: macenko_fit, REINHARD: reinhard_fit}
APPLY = {MACENKO: macenko_apply, REINHARD: reinhard_apply}


# --- references ------------------------------------------------------------------------------------


@dataclass
class StainReference:
    """What tiles are normalised to: one method's parameters, fitted to a reference image or tile set."""

    method: str
    values: dict[str, list]
    source: str
    tiles: int
    extra: dict = field(default_factory=dict)

    def tensors(self, device) -> dict[str, torch.Tensor]:
        return {k: torch.tensor(v, dtype=torch.float32, device=device) for k, v in self.values.items()}

    def describe(self) -> str:
        """One line for the features file attributes and logs."""
        return json.dumps({"method": self.method, "source": self.source, **self.values}, sort_keys=True)

    def write(self, path: str | Path) -> None:
        with atomic_output(path) as tmp:
            Path(tmp).write_text(
                json.dumps(
                    {
                        "method": self.method,
                        "values": self.values,
                        "source": self.source,
                        "tiles": self.tiles,
                        **self.extra,
                    },
                    indent=2,
                )
                + "\n"
            )

    @classmethod
    def read(cls, path: str | Path) -> "StainReference":
        data = json.loads(Path(path).read_text())
        known = {"method", "values", "source", "tiles"}
        return cls(
            data["method"],
            data["values"],
            data["source"],
            data["tiles"],
            {k: v for k, v in data.items() if k not in known},
        )


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown stain normalisation '{method}' (known: {', '.join(METHODS)})")


def fit_reference(method: str, tiles: torch.Tensor, source: str) -> StainReference:
    """The robust (median) parameters of the tiles that have enough stain."""
    check_method(method)
    fitted, valid = FIT[method](tiles)
    if not valid.any():
        raise ConfigError(
            "stain.reference",
            f"no tile of the stain reference ({source}) has enough stain to fit "
            f"{method}; choose other reference slides or an image",
        )
    values = {}
    for name, value in fitted.items():
        median = value[valid].median(0).values
        if name == "stain_matrix":
            median = median / median.norm(dim=0, keepdim=True)
        values[name] = median.tolist()
    return StainReference(method, values, source, int(valid.sum()))


class StainNormaliser:
    """Normalises batches of tiles to one reference, on the batches' device: each tile fitted on its own, or
    every tile with one slide's fit (for_slide)."""

    def __init__(self, reference: StainReference, slide_fit: StainReference | None = None):
        check_method(reference.method)
        self.reference, self.slide_fit = reference, slide_fit
        self._device_values: dict[str, dict[str, torch.Tensor]] = {}

    def for_slide(self, sample: torch.Tensor, slide: str) -> "StainNormaliser":
        """A normaliser that maps every tile of a slide with one fit: the robust median of the fits of `sample`
        (tiles of the slide, 0-255), so denser tiles stay denser than the slide's others. A slide none of whose
        sampled tiles can be fitted keeps the per-tile fit, with a warning."""
        try:
            fitted = fit_reference(self.reference.method, sample.float(), f"slide {slide}")
        except ConfigError:
            log.warning(
                "slide %s: no sampled tile has enough stain for a slide fit; tiles are fitted one by one", slide
            )
            return self
        log.info("slide %s: stain fit of %d sampled tiles %s", slide, fitted.tiles, fitted.describe())
        return StainNormaliser(self.reference, fitted)

    def __call__(self, tiles: torch.Tensor) -> torch.Tensor:
        """Float 0-255 N x 3 x H x W; tiles with too little stain (or a failed fit) come back unchanged."""
        x = tiles.float()
        if x.shape[0] == 0:
            return x
        key = str(x.device)
        if key not in self._device_values:
            self._device_values[key] = self.reference.tensors(x.device)
        method = self.reference.method
        if self.slide_fit is not None:
            fitted = {k: v.expand(len(x), *v.shape) for k, v in self.slide_fit.tensors(x.device).items()}
            valid = torch.ones(len(x), dtype=torch.bool, device=x.device)
        else:
            fitted, valid = FIT[method](x)
        if not valid.any():
            return x
        out = x.clone()
        keep = {k: v[valid] for k, v in fitted.items()}
        normalised = APPLY[method](x[valid], keep, self._device_values[key])
        good = torch.isfinite(normalised).flatten(1).all(1)
        rows = valid.nonzero()[:, 0][good]
        out[rows] = normalised[good].to(out.dtype)
        return out

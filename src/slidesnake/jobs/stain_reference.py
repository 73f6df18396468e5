"""Rule stain_reference: what encoders with a stain normalisation method normalise their tiles to, fitted
once for the cohort (the robust median over tissue-rich tiles of slides spread over the sample sheet) or to
a reference image given in the config."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from slidesnake.core.errors import ConfigError
from slidesnake.core.logs import progress
from slidesnake.stain.normalise import fit_reference
from slidesnake.stain.params import StainParams
from slidesnake.stain.sample import sample_tiles

log = logging.getLogger(__name__)
COHORT = "cohort"


def image_tiles(path: Path, size: int) -> torch.Tensor:
    """A reference image cut into size x size crops (the whole image, resized, when it is smaller)."""
    try:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError) as error:
        raise ConfigError("stain.reference", f"cannot read the reference image {path}: {error}") from error
    h, w, _ = rgb.shape
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1).float()[None]
    if h < size or w < size:
        return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True)
    crops = x.unfold(2, size, size).unfold(3, size, size)  # 1 x 3 x rows x cols x size x size
    return crops.permute(0, 2, 3, 1, 4, 5).reshape(-1, 3, size, size)


def run(method: str, params: StainParams, slides: dict[str, dict], out_json: Path) -> None:
    """Fit `method` to the reference (slides: slide -> {"slide", "tiles"}, for a cohort reference) and write it."""
    if params.reference == COHORT:
        batches = [
            sample_tiles(files["slide"], files["tiles"], slide, params.tiles_per_slide, params.fit_px, params.seed)
            for slide, files in progress(slides.items(), "reference tiles", "slide")
        ]
        tiles = torch.cat(batches) if batches else torch.empty(0, 3, params.fit_px, params.fit_px)
        source = (
            f"cohort: {len(tiles)} tiles of {len(slides)} slides ({', '.join(list(slides)[:5])}"
            f"{', ...' if len(slides) > 5 else ''})"
        )
        if len(tiles) == 0:
            raise ConfigError("stain.reference", f"the {len(slides)} reference slides have no tiles to fit {method} to")
    else:
        tiles = image_tiles(Path(params.reference), params.fit_px)
        source = f"image: {params.reference} ({len(tiles)} crops of {params.fit_px} px)"
    reference = fit_reference(method, tiles, source)
    reference.extra = {"slides": list(slides), "tiles_offered": len(tiles)}
    reference.write(out_json)
    log.info(
        "%s reference from %s: %d of %d tiles had enough stain; %s",
        method,
        source,
        reference.tiles,
        len(tiles),
        reference.values,
    )

"""Tiles for fitting a stain reference and for the QC grid: a seeded, spread-out sample of a slide's tissue
tiles, read the way feature extraction reads them and resized to the size they are normalised at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from slidesnake.io.slide import Slide
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_reader import tile_stream


def resize_tiles(tiles: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 / float N x 3 x r x r -> float 0-255 at size x size (antialiased bilinear)."""
    x = tiles.float()
    if x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def sample_tiles(
    slide_path: str | Path, tiles_h5: str | Path, slide_id: str, count: int, size: int, seed: int, reader: str = "auto"
) -> torch.Tensor:
    """`count` tiles (fewer if the slide has fewer) drawn without replacement, the most tissue-rich half
    preferred, as float 0-255 N x 3 x size x size on the CPU."""
    tiles = TileFile.read(tiles_h5)
    if len(tiles) == 0:
        return torch.empty(0, 3, size, size)
    rng = np.random.default_rng([seed, len(tiles)])
    order = (
        np.argsort(-tiles.tissue_fraction, kind="stable")
        if tiles.tissue_fraction is not None
        else np.arange(len(tiles))
    )
    pool = order[: max(count, len(order) // 2)]
    chosen = np.sort(rng.choice(pool, size=min(count, len(pool)), replace=False))
    with Slide(slide_path, slide_id, require_mpp=False) as slide:
        stream = tile_stream(
            Path(slide_path),
            slide,
            tiles.coords[chosen],
            tiles.size0,
            tiles.tile_px,
            reader,
            torch.device("cpu"),
            batch_size=max(1, len(chosen)),
            num_workers=0,
        )
        return torch.cat([resize_tiles(batch, size) for batch in stream])

"""Class probabilities of every tile of a slide at the patch set's resolution: each tile, read the fast way
the features are read, is cut into patch-sized windows at the classifier's microns per pixel, and the
windows' probabilities are averaged."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from slidesnake.classifier.model import TileClassifierNet
from slidesnake.core.logs import progress
from slidesnake.features.encoders import EncoderSpec
from slidesnake.features.extract import preprocess
from slidesnake.io.slide import Slide
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_reader import tile_stream


def window_positions(side: int, window: int) -> list[int]:
    """Evenly spread window origins covering a side of `side` px with windows of `window` px."""
    if side <= window:
        return [0]
    count = math.ceil(side / window)
    return [round(i * (side - window) / (count - 1)) for i in range(count)]


def tile_windows(tiles: torch.Tensor, tile_side_at_patch_mpp: int, window: int) -> torch.Tensor:
    """B x 3 x r x r tiles -> (B * W) x 3 x window x window windows at the patch set's resolution."""
    side = max(window, tile_side_at_patch_mpp)
    x = F.interpolate(tiles.float(), size=(side, side), mode="bilinear", antialias=True, align_corners=False)
    positions = window_positions(side, window)
    windows = [x[:, :, y : y + window, x0 : x0 + window] for y in positions for x0 in positions]
    return torch.stack(windows, 1).flatten(0, 1)


def classify_slide(
    net: TileClassifierNet,
    spec: EncoderSpec,
    checkpoint: dict,
    slide_path: Path,
    tiles_h5: Path,
    slide_id: str,
    device,
    batch_size: int,
    num_workers: int,
    reader: str = "auto",
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(coords, probabilities N x C in the tiles file's order, summary)."""
    tiles = TileFile.read(tiles_h5)
    side = int(round(tiles.size0 * tiles.mpp_level0 / checkpoint["patch_mpp"]))
    window = int(checkpoint["patch_px"])
    with Slide(slide_path, slide_id, require_mpp=False) as slide:
        stream = tile_stream(
            slide_path, slide, tiles.coords, tiles.size0, tiles.tile_px, reader, device, batch_size, num_workers
        )
    n_windows = len(window_positions(max(window, side), window)) ** 2
    probabilities = np.empty((len(tiles), len(checkpoint["classes"])), np.float32)
    start, done = time.perf_counter(), 0
    net.eval()
    with torch.inference_mode():
        for batch in progress(stream, f"{slide_id} tile classes", "batch"):
            windows = tile_windows(batch, side, window)
            x = preprocess(windows, spec)
            p = torch.softmax(net(x).float(), 1).view(len(batch), n_windows, -1).mean(1)
            probabilities[done : done + len(batch)] = p.cpu().numpy()
            done += len(batch)
    summary = {
        "slide": slide_id,
        "tiles": len(tiles),
        "windows_per_tile": n_windows,
        "reader": stream.reader,
        "seconds": round(time.perf_counter() - start, 3),
    }
    return tiles.coords, probabilities, summary

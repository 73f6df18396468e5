"""Raw JPEG tiles of tiled TIFF / SVS pyramids: read the stored bytes, decode in batches (nvJPEG on
CUDA, libjpeg-turbo on CPU, both through torchvision.io.decode_jpeg), stitch and crop regions."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
import torch

with warnings.catch_warnings():  # torchvision 0.29 flags its codecs as deprecated; they remain the nvJPEG path
    warnings.simplefilter("ignore", DeprecationWarning)
    from torchvision.io import decode_jpeg

JPEG = 7
PHOTOMETRIC_RGB, PHOTOMETRIC_YCBCR = 2, 6


@dataclass(frozen=True)
class LevelLayout:
    width: int
    height: int
    tile_w: int
    tile_h: int
    offsets: np.ndarray
    counts: np.ndarray
    tables: bytes | None
    rgb_encoded: bool  # photometric RGB (Aperio): the JPEG data carries RGB, not YCbCr

    @property
    def grid_w(self) -> int:
        return -(-self.width // self.tile_w)


@dataclass(frozen=True)
class RegionPlan:
    """Stored tiles covering one region, and where the region sits in their stitched canvas."""

    tiles: list[tuple[int, int] | None]  # (offset, count) per canvas cell, row-major; None: outside
    cells: tuple[int, int]  # canvas cells across, down
    crop: tuple[int, int, int, int]  # x, y, w, h in canvas pixels
    valid: tuple[int, int]  # canvas pixels inside the level (w, h); beyond reads as white


def level_layouts(path: str | Path, level_dimensions) -> list[LevelLayout] | None:
    """Per-OpenSlide-level layouts when every level is a JPEG-tiled, 8-bit RGB/YCbCr page; else None."""
    try:
        with tifffile.TiffFile(path) as tif:
            pages = [level.keyframe for level in tif.series[0].levels]
            layouts = []
            for page, (width, height) in zip(pages, level_dimensions, strict=False):
                if (
                    page.compression != JPEG
                    or not page.is_tiled
                    or page.samplesperpixel != 3
                    or page.bitspersample != 8
                    or page.photometric not in (PHOTOMETRIC_RGB, PHOTOMETRIC_YCBCR)
                    or (page.imagewidth, page.imagelength) != (width, height)
                    or page.planarconfig != 1
                ):
                    return None
                tables = page.jpegtables
                layouts.append(
                    LevelLayout(
                        width,
                        height,
                        page.tilewidth,
                        page.tilelength,
                        np.asarray(page.dataoffsets, np.int64),
                        np.asarray(page.databytecounts, np.int64),
                        bytes(tables) if tables is not None else None,
                        page.photometric == PHOTOMETRIC_RGB,
                    )
                )
            return layouts if len(layouts) == len(level_dimensions) else None
    except (tifffile.TiffFileError, ValueError, IndexError, OSError):
        return None


def plan_region(layout: LevelLayout, x: int, y: int, w: int, h: int) -> RegionPlan:
    """Stored tiles under the level-pixel box (x, y, w, h), x and y >= 0."""
    tx0, ty0 = x // layout.tile_w, y // layout.tile_h
    tx1, ty1 = (x + w - 1) // layout.tile_w, (y + h - 1) // layout.tile_h
    grid_h = -(-layout.height // layout.tile_h)
    tiles = []
    for ty in range(ty0, ty1 + 1):
        for tx in range(tx0, tx1 + 1):
            if 0 <= tx < layout.grid_w and 0 <= ty < grid_h:
                index = ty * layout.grid_w + tx
                tiles.append((int(layout.offsets[index]), int(layout.counts[index])))
            else:
                tiles.append(None)
    origin_x, origin_y = tx0 * layout.tile_w, ty0 * layout.tile_h
    return RegionPlan(
        tiles,
        (tx1 - tx0 + 1, ty1 - ty0 + 1),
        (x - origin_x, y - origin_y, w, h),
        (layout.width - origin_x, layout.height - origin_y),
    )


# APP14 "Adobe" segment with transform 0: tells decoders the three components are RGB, not YCbCr
ADOBE_RGB = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"


def complete_stream(data: bytes, layout: LevelLayout) -> bytes:
    """A decodable JPEG stream: abbreviated tile data spliced into the level's JPEGTables, and for
    RGB-encoded data an Adobe marker so that no YCbCr conversion is applied (as OpenSlide does)."""
    if layout.tables:
        data = layout.tables[:-2] + data[2:]  # drop the tables' EOI and the tile's SOI
    if layout.rgb_encoded:
        data = data[:2] + ADOBE_RGB + data[2:]
    return data


def read_tile_bytes(handle, plan: RegionPlan, layout: LevelLayout) -> list[torch.Tensor | None]:
    out = []
    for entry in plan.tiles:
        if entry is None:
            out.append(None)
            continue
        handle.seek(entry[0])
        out.append(torch.frombuffer(bytearray(complete_stream(handle.read(entry[1]), layout)), dtype=torch.uint8))
    return out


def decode_many(streams: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """Decode JPEG byte tensors to 3 x H x W uint8 (one batched nvJPEG call on CUDA)."""
    if not streams:
        return []
    if device.type == "cuda":
        return decode_jpeg(streams, device=device)
    return [decode_jpeg(s) for s in streams]


def assemble(
    plan: RegionPlan, decoded: list[torch.Tensor | None], tile_w: int, tile_h: int, device: torch.device
) -> torch.Tensor:
    """Stitch decoded tiles into the region (3 x h x w uint8); outside the level is white."""
    cols, rows = plan.cells
    canvas = torch.full((3, rows * tile_h, cols * tile_w), 255, dtype=torch.uint8, device=device)
    for index, tile in enumerate(decoded):
        if tile is None:
            continue
        r, c = divmod(index, cols)
        canvas[:, r * tile_h : (r + 1) * tile_h, c * tile_w : (c + 1) * tile_w] = tile[:, :tile_h, :tile_w]
    valid_w, valid_h = plan.valid
    canvas[:, :, max(valid_w, 0) :] = 255
    canvas[:, max(valid_h, 0) :, :] = 255
    x, y, w, h = plan.crop
    return canvas[:, y : y + h, x : x + w]

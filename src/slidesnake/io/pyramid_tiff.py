"""Streaming writer for tiled, JPEG-compressed pyramidal TIFF (BigTIFF when large).

Tiles of any level can be written in any order, so a generator can produce all levels in one pass
over the slide; only the tile offset tables stay in memory. The image directories are written last.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

# TIFF field types
SHORT, LONG, RATIONAL, ASCII, LONG8 = 3, 4, 5, 2, 16
TYPE_SIZES = {SHORT: 2, LONG: 4, RATIONAL: 8, ASCII: 1, LONG8: 8}
TYPE_DTYPES = {SHORT: "<u2", LONG: "<u4", LONG8: "<u8"}
BIGTIFF_THRESHOLD = 2**31  # raw bytes above which BigTIFF is used


def encode_jpeg_tile(rgb: np.ndarray, tile: int, quality: int, fill: int = 255) -> bytes:
    """JFIF (YCbCr 4:2:0) bytes of an RGB tile, padded to tile x tile with `fill`."""
    h, w = rgb.shape[:2]
    if (h, w) != (tile, tile):
        padded = np.full((tile, tile, 3), fill, np.uint8)
        padded[:h, :w] = rgb
        rgb = padded
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()


class PyramidTiffWriter:
    """Write a pyramid whose level sizes are given up front; call write_tile for every tile, then close."""

    def __init__(
        self,
        path: str | Path,
        level_sizes: list[tuple[int, int]],
        mpp: float,
        tile: int = 256,
        description: str = "",
        bigtiff: bool | None = None,
    ):
        self.level_sizes = level_sizes
        self.tile = tile
        self.mpp = mpp
        self.description = description
        raw_bytes = sum(w * h * 3 for w, h in level_sizes)
        self.bigtiff = raw_bytes > BIGTIFF_THRESHOLD if bigtiff is None else bigtiff
        self.grid = [((w + tile - 1) // tile, (h + tile - 1) // tile) for w, h in level_sizes]
        self.offsets = [np.zeros(gx * gy, np.uint64) for gx, gy in self.grid]
        self.counts = [np.zeros(gx * gy, np.uint64) for gx, gy in self.grid]
        self.file = open(path, "wb")
        if self.bigtiff:
            self.file.write(b"II" + struct.pack("<HHHQ", 43, 8, 0, 0))
        else:
            self.file.write(b"II" + struct.pack("<HI", 42, 0))

    def write_tile(self, level: int, tx: int, ty: int, data: bytes) -> None:
        index = ty * self.grid[level][0] + tx
        if self.counts[level][index]:
            raise ValueError(f"tile ({level}, {tx}, {ty}) written twice")
        self.offsets[level][index] = self.file.tell()
        self.counts[level][index] = len(data)
        self.file.write(data)
        if self.file.tell() % 2:
            self.file.write(b"\0")  # word alignment

    def _ifd_entries(self, level: int) -> list[tuple[int, int, object]]:
        width, height = self.level_sizes[level]
        level_mpp = self.mpp * self.level_sizes[0][0] / width
        pixels_per_cm = 1e4 / level_mpp
        resolution = (round(pixels_per_cm * 1000), 1000)
        offset_type = LONG8 if self.bigtiff else LONG
        entries = [
            (254, LONG, [0 if level == 0 else 1]),  # NewSubfileType: reduced resolution
            (256, LONG, [width]),
            (257, LONG, [height]),
            (258, SHORT, [8, 8, 8]),
            (259, SHORT, [7]),  # 8-bit, JPEG
            (262, SHORT, [6]),  # YCbCr
            (277, SHORT, [3]),
            (282, RATIONAL, [resolution]),
            (283, RATIONAL, [resolution]),
            (284, SHORT, [1]),
            (296, SHORT, [3]),  # chunky, centimetre
            (322, LONG, [self.tile]),
            (323, LONG, [self.tile]),
            (324, offset_type, self.offsets[level].tolist()),
            (325, offset_type, self.counts[level].tolist()),
            (530, SHORT, [2, 2]),  # YCbCr 4:2:0
        ]
        if level == 0 and self.description:
            entries.insert(5, (270, ASCII, self.description))
        return entries

    def _pack_values(self, ftype: int, values) -> bytes:
        if ftype == ASCII:
            return values.encode("ascii") + b"\0"
        if ftype == RATIONAL:
            return b"".join(struct.pack("<II", n, d) for n, d in values)
        return np.asarray(values, dtype=TYPE_DTYPES[ftype]).tobytes()

    def close(self) -> None:
        """Check every tile was written, then write the image directories and link them."""
        for level, counts in enumerate(self.counts):
            if not counts.all():
                raise ValueError(f"level {level}: {int((counts == 0).sum())} tiles never written")
        inline = 8 if self.bigtiff else 4
        count_fmt, entry_fmt, next_fmt = ("<Q", "<HHQ", "<Q") if self.bigtiff else ("<H", "<HHI", "<I")
        first_pointer_pos = 8 if self.bigtiff else 4
        pointer_pos = first_pointer_pos
        for level in range(len(self.level_sizes)):
            entries = sorted(self._ifd_entries(level), key=lambda e: e[0])
            blobs = []
            for tag, ftype, values in entries:
                data = self._pack_values(ftype, values)
                count = len(data) // TYPE_SIZES[ftype]
                if len(data) > inline:
                    if self.file.tell() % 2:
                        self.file.write(b"\0")
                    position = self.file.tell()
                    self.file.write(data)
                    blobs.append((tag, ftype, count, struct.pack(next_fmt, position)))
                else:
                    blobs.append((tag, ftype, count, data.ljust(inline, b"\0")))
            if self.file.tell() % 2:
                self.file.write(b"\0")
            ifd_position = self.file.tell()
            self.file.write(struct.pack(count_fmt, len(blobs)))
            for tag, ftype, count, value in blobs:
                self.file.write(struct.pack(entry_fmt, tag, ftype, count) + value)
            next_pointer = self.file.tell()
            self.file.write(struct.pack(next_fmt, 0))
            self.file.seek(pointer_pos)
            self.file.write(struct.pack(next_fmt, ifd_position))
            self.file.seek(0, 2)
            pointer_pos = next_pointer
        self.file.close()


def write_single_level(path: str | Path, rgb: np.ndarray, mpp: float, quality: int = 90, tile: int = 256) -> None:
    """An RGB image as a one-level tiled JPEG TIFF that declares `mpp` (tests and benchmarks)."""
    height, width = rgb.shape[:2]
    writer = PyramidTiffWriter(path, [(width, height)], mpp, tile)
    for ty in range(0, height, tile):
        for tx in range(0, width, tile):
            writer.write_tile(
                0, tx // tile, ty // tile, encode_jpeg_tile(rgb[ty : ty + tile, tx : tx + tile], tile, quality)
            )
    writer.close()

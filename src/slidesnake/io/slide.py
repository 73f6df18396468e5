"""One slide-reading abstraction: level-0 mpp, pyramid level choice and region reads at a target mpp."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import openslide

from slidesnake.core.errors import SlideError

STRIPE_PIXELS = 2048 * 2048  # level pixels decoded at once by read_downsampled


def composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """RGBA (not premultiplied, as OpenSlide returns it) over white, as uint8 RGB."""
    rgb, alpha = rgba[..., :3], rgba[..., 3:]
    if alpha.min() == 255:
        return np.ascontiguousarray(rgb)
    a = alpha.astype(np.float32) / 255.0
    return (rgb * a + 255.0 * (1.0 - a) + 0.5).astype(np.uint8)


def describe_file(path: Path, source: str | None = None) -> str:
    """The workflow's file and the user's own file behind it (a link target or the download source)."""
    path = Path(path)
    behind = source or (str(path.resolve()) if path.is_symlink() else None)
    return f"{path} (from {behind})" if behind and behind != str(path) else str(path)


def check_readable(path: Path, slide_id: str, source: str | None = None) -> dict:
    """Open a fetched slide and decode a small region of its smallest level; the error names the user's file.
    Returns a summary for the log."""
    try:
        with openslide.OpenSlide(str(path)) as handle:
            level = handle.level_count - 1
            width, height = handle.level_dimensions[level]
            np.asarray(handle.read_region((0, 0), level, (min(64, width), min(64, height))))
            return {
                "slide": slide_id,
                "vendor": handle.properties.get(openslide.PROPERTY_NAME_VENDOR),
                "dimensions": handle.dimensions,
                "levels": handle.level_count,
                "mpp": handle.properties.get(openslide.PROPERTY_NAME_MPP_X),
            }
    except (openslide.OpenSlideError, OSError) as error:
        raise SlideError(slide_id, f"OpenSlide cannot read {describe_file(path, source)}: {error}") from error


class Slide:
    """A whole-slide image opened with OpenSlide, with its level-0 microns per pixel resolved.

    The mpp comes from the file, else from `mpp` (the sample sheet), else from `default_mpp`
    (the config); without any a SlideError names the slide. Readers that only read pixels pass
    require_mpp=False.
    """

    def __init__(
        self,
        path: str | Path,
        slide_id: str | None = None,
        mpp: float | None = None,
        default_mpp: float | None = None,
        require_mpp: bool = True,
    ):
        self.path = Path(path)
        self.slide_id = slide_id or self.path.stem
        try:
            self.handle = openslide.OpenSlide(str(self.path))
        except (openslide.OpenSlideError, OSError) as error:
            raise SlideError(self.slide_id, f"OpenSlide cannot open {describe_file(self.path)}: {error}") from error
        self.mpp, self.mpp_source = self._resolve_mpp(mpp, default_mpp) if require_mpp else (None, None)
        self.dimensions = self.handle.dimensions
        self.level_dimensions = self.handle.level_dimensions
        self.level_downsamples = self.handle.level_downsamples

    def _resolve_mpp(self, sheet_mpp, default_mpp) -> tuple[float, str]:
        props = self.handle.properties
        try:
            file_mpp = float(props.get(openslide.PROPERTY_NAME_MPP_X, "nan"))
        except ValueError:
            file_mpp = math.nan
        if math.isfinite(file_mpp) and file_mpp > 0:
            return file_mpp, "file"
        if sheet_mpp is not None:
            return float(sheet_mpp), "sample sheet"
        if default_mpp is not None:
            return float(default_mpp), "config default_mpp"
        raise SlideError(
            self.slide_id,
            "the file carries no microns-per-pixel (mpp); give it in the sample sheet's 'mpp' column "
            "or set 'default_mpp' in the config",
        )

    def close(self) -> None:
        self.handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def vendor(self) -> str | None:
        return self.handle.properties.get(openslide.PROPERTY_NAME_VENDOR)

    def downsample_for_mpp(self, target_mpp: float) -> float:
        return target_mpp / self.mpp

    def level_for_downsample(self, downsample: float) -> int:
        """Deepest pyramid level whose downsample does not exceed `downsample` (tolerance 1%)."""
        best = 0
        for level, level_ds in enumerate(self.level_downsamples):
            if level_ds <= downsample * 1.01:
                best = level
        return best

    def read_region(self, x: int, y: int, size0: int | tuple[int, int], out_size: int | tuple[int, int]) -> np.ndarray:
        """RGB uint8 of the level-0 box (x, y, size0) resampled to `out_size`, read from the best level."""
        w0, h0 = (size0, size0) if isinstance(size0, int) else size0
        out_w, out_h = (out_size, out_size) if isinstance(out_size, int) else out_size
        level = self.level_for_downsample(w0 / out_w)
        level_ds = self.level_downsamples[level]
        read_w, read_h = max(1, round(w0 / level_ds)), max(1, round(h0 / level_ds))
        rgba = np.asarray(self.handle.read_region((int(x), int(y)), level, (read_w, read_h)))
        rgb = composite_on_white(rgba)
        if (read_w, read_h) != (out_w, out_h):
            rgb = cv2.resize(rgb, (out_w, out_h), interpolation=cv2.INTER_AREA)
        return rgb

    def read_downsampled(self, downsample: float) -> np.ndarray:
        """Whole slide as RGB at `downsample`, decoded from the nearest finer level in bounded stripes.

        Never decodes level 0 when a pyramid level serves; peak memory is the output plus one stripe.
        """
        width0, height0 = self.dimensions
        out_w, out_h = max(1, round(width0 / downsample)), max(1, round(height0 / downsample))
        level = self.level_for_downsample(downsample)
        level_ds = self.level_downsamples[level]
        level_w, _ = self.level_dimensions[level]
        scale = downsample / level_ds  # level pixels per output pixel
        rows_per_stripe = max(1, int(STRIPE_PIXELS / max(level_w, 1) / scale))
        out = np.empty((out_h, out_w, 3), np.uint8)
        for r0 in range(0, out_h, rows_per_stripe):
            r1 = min(out_h, r0 + rows_per_stripe)
            y0 = round(r0 * downsample)
            read_h = max(1, round((r1 - r0) * scale))
            try:
                rgba = np.asarray(self.handle.read_region((0, y0), level, (level_w, read_h)))
            except openslide.OpenSlideError as error:  # a truncated or corrupt file
                raise SlideError(self.slide_id, f"OpenSlide cannot read {describe_file(self.path)}: {error}") from error
            out[r0:r1] = cv2.resize(composite_on_white(rgba), (out_w, r1 - r0), interpolation=cv2.INTER_AREA)
        return out

    def read_thumbnail(self, max_side: int) -> tuple[np.ndarray, float]:
        """RGB image of the whole slide, its longer side at most `max_side` px, and its downsample from level 0.

        A pyramid level whose longer side lies in [max_side / 2, max_side] is read as it is (no resampling, a
        fraction of the pixels of a finer level); otherwise the image is resampled to exactly `max_side`.
        """
        target = max(1.0, max(self.dimensions) / max_side)
        served = [ds for ds in self.level_downsamples if target * 0.999 <= ds <= 2 * target]
        downsample = min(served) if served else target
        return self.read_downsampled(downsample), downsample

    def thumbnail_at_mpp(self, mpp: float) -> tuple[np.ndarray, float]:
        """RGB image at `mpp` microns per pixel and its downsample from level 0."""
        downsample = max(1.0, self.downsample_for_mpp(mpp))
        return self.read_downsampled(downsample), downsample

"""Quality-control pictures: outlines and tile grids drawn over slide thumbnails."""

from __future__ import annotations

import cv2
import numpy as np

GREEN, RED, YELLOW, BLUE = (40, 200, 60), (230, 40, 40), (250, 210, 20), (40, 90, 230)
QC_MAX_SIDE = 2048  # QC pictures are for looking at: their memory does not grow with the slide


def fit_within(image: np.ndarray, max_side: int = QC_MAX_SIDE, nearest: bool = False) -> np.ndarray:
    """Image shrunk so that its longer side is at most `max_side` (never enlarged)."""
    scale = max_side / max(image.shape[:2])
    if scale >= 1:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def draw_outline(rgb: np.ndarray, mask: np.ndarray, colour, thickness: int = 2) -> np.ndarray:
    """Outline of a boolean mask (resized to the image) drawn over a copy of the image."""
    if mask.shape[:2] != rgb.shape[:2]:
        mask = cv2.resize(mask.astype(np.uint8), (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    out = rgb.copy()
    cv2.drawContours(out, contours, -1, colour, thickness, cv2.LINE_AA)
    return out


def draw_tiles(
    rgb: np.ndarray,
    coords: np.ndarray,
    size0: int,
    downsample: float,
    colours: np.ndarray | None = None,
    filled: bool = False,
) -> np.ndarray:
    """Tile squares (level-0 coords) drawn over a thumbnail at `downsample`, semi-transparent;
    outlines, or filled squares (one colour per tile)."""
    overlay = rgb.copy()
    side = max(1, int(round(size0 / downsample)))
    thickness = -1 if filled else max(1, side // 12)
    for i, (x, y) in enumerate(np.round(coords / downsample).astype(int)):
        colour = tuple(int(c) for c in colours[i]) if colours is not None else BLUE
        cv2.rectangle(overlay, (x, y), (x + side - 1, y + side - 1), colour, thickness)
    return cv2.addWeighted(overlay, 0.75, rgb, 0.25, 0)


def write_rgb(path, rgb: np.ndarray, quality: int = 90) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"could not write {path}")


def notice_picture(lines: list[str], width: int = 800, line_px: int = 28, max_chars: int = 60) -> np.ndarray:
    """A white picture with `lines` of text (long lines wrapped): the thumbnail / QC picture of an excluded slide."""
    wrapped = [line[i : i + max_chars] for line in lines for i in range(0, max(len(line), 1), max_chars)]
    rgb = np.full((line_px * (len(wrapped) + 2), width, 3), 255, np.uint8)
    for row, text in enumerate(wrapped, start=1):
        cv2.putText(rgb, text, (16, line_px * row + 8), cv2.FONT_HERSHEY_SIMPLEX, 0.6, RED, 1, cv2.LINE_AA)
    return rgb


ARTEFACT_COLOURS = {"blur": YELLOW, "pen": GREEN, "fold": RED, "white": BLUE}  # kinds of tissue/artefacts.py


def kind_cells(flags: np.ndarray, row_col: np.ndarray, grid_shape: tuple[int, int], bit: int) -> np.ndarray:
    """Boolean grid (rows x cols) of the tiles whose artefact flags have `bit` set (a tile's first kind)."""
    first = np.zeros(len(flags), np.int64) - 1
    for b in range(7, -1, -1):
        first = np.where((flags >> b) & 1 == 1, b, first)
    cells = np.zeros(grid_shape, bool)
    rows_cols = row_col[first == bit]
    cells[rows_cols[:, 0], rows_cols[:, 1]] = True
    return cells


def artefact_picture(
    thumbnail: np.ndarray, cells: dict[str, np.ndarray], stride0: float, size0: int, downsample: float, lines: list
) -> np.ndarray:
    """The thumbnail with the artefact tiles of each kind (`cells`: kind -> grid of tiles) outlined in its colour
    (ARTEFACT_COLOURS) above a legend (`lines`: text and colour, or None for a line without a swatch)."""
    out = fit_within(thumbnail)
    scale = out.shape[1] / thumbnail.shape[1] / downsample  # picture px per level-0 px
    side = max(1, int(round(size0 * scale)))
    for kind, grid in cells.items():
        mask = np.zeros(out.shape[:2], np.uint8)
        for r, c in np.argwhere(grid):
            x, y = int(round(c * stride0 * scale)), int(round(r * stride0 * scale))
            mask[y : y + side, x : x + side] = 1
        out = draw_outline(out, mask.astype(bool), ARTEFACT_COLOURS[kind], max(1, out.shape[1] // 400))
    line_px = 22
    legend = np.full((line_px * len(lines) + 12, max(out.shape[1], 420), 3), 255, np.uint8)
    for i, (text, colour) in enumerate(lines):
        y = line_px * (i + 1)
        if colour is not None:
            cv2.rectangle(legend, (8, y - 14), (22, y), colour, -1)
        cv2.putText(legend, text, (30, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    out = np.pad(out, ((0, 0), (0, legend.shape[1] - out.shape[1]), (0, 0)), constant_values=255)
    return np.vstack([out, legend])

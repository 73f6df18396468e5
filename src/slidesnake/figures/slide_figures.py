"""Per-slide figures: heatmap with colour bar and outlines, and the top-scoring tiles."""

from __future__ import annotations

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import colormaps  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from slidesnake.io.slide import Slide  # noqa: E402


def save(figure, path, **kwargs) -> None:
    """PNG, or JPEG (quality 88) for photographic figures: heatmaps and galleries stay small in reports."""
    if str(path).lower().endswith((".jpg", ".jpeg")):
        kwargs["pil_kwargs"] = {"quality": 88}
    figure.savefig(path, format="jpeg" if str(path).lower().endswith((".jpg", ".jpeg")) else None, **kwargs)
    plt.close(figure)


FIGURE_DPI = 150
IMAGE_SIDE_PX = 9 * FIGURE_DPI  # the longer side of a slide image in its figure: 9 inches


def image_figure(image: np.ndarray, title: str, side_inches: float):
    """A figure showing `image` pixel for pixel (resampled once, to at most 9 inches on its longer side), titled,
    with `side_inches` of room at the right for a colour bar or legend. Returns the figure and an invisible axis
    lying exactly over the image, for legends and colour bars to be placed against."""
    height, width = image.shape[:2]
    scale = IMAGE_SIDE_PX / max(width, height)
    if scale < 1:
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    title_px, side_px = 0.45 * FIGURE_DPI, side_inches * FIGURE_DPI
    figure_w, figure_h = width + side_px, height + title_px
    figure = plt.figure(figsize=(figure_w / FIGURE_DPI, figure_h / FIGURE_DPI), dpi=FIGURE_DPI)
    figure.figimage(image, xo=0, yo=0, origin="upper")
    axis = figure.add_axes((0, 0, width / figure_w, height / figure_h))
    axis.set_axis_off()
    figure.text(width / 2 / figure_w, 1 - 0.1 * FIGURE_DPI / figure_h, title, ha="center", va="top", fontsize=10)
    return figure, axis


def save_heatmap_figure(
    path, image: np.ndarray, title: str, cmap: str, score_label: str, legend: list[tuple[str, tuple]]
) -> None:
    """The heatmap image with its title, a colour bar of the score at the right and the outlines' legend."""
    figure, axis = image_figure(image, title, 1.6)
    left, bottom, width, height = axis.get_position().bounds
    inch_w = 1 / figure.get_figwidth()  # one inch as a share of the figure width
    bar_axis = figure.add_axes((left + width + 0.12 * inch_w, bottom + 0.1 * height, 0.14 * inch_w, 0.8 * height))
    bar = figure.colorbar(plt.cm.ScalarMappable(Normalize(0, 1), colormaps[cmap]), cax=bar_axis)
    bar.set_label(score_label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    if legend:
        axis.legend(
            handles=[Line2D([0], [0], color=np.array(c) / 255, lw=2, label=name) for name, c in legend],
            loc="lower right",
            fontsize=7,
            framealpha=0.8,
        )
    save(figure, path)


def save_gallery(
    path, slide_path, coords: np.ndarray, scores: np.ndarray, size0: int, k: int, title: str, tile_display_px: int = 224
) -> None:
    """The k highest-scoring tiles, read at display size from the best pyramid level, as one mosaic (up to 4
    per row) with each tile's score and level-0 position above it."""
    order = np.argsort(scores)[::-1][:k]
    columns = min(4, max(1, len(order)))
    rows = max(1, -(-len(order) // columns))
    gap, caption = 8, 34  # px between tiles, px above each tile for its caption
    cell_w, cell_h = tile_display_px + gap, tile_display_px + caption
    mosaic = np.full((rows * cell_h, columns * cell_w - gap, 3), 255, np.uint8)
    with Slide(slide_path, require_mpp=False) as slide:
        for n, index in enumerate(order):
            top, left = (n // columns) * cell_h + caption, (n % columns) * cell_w
            x, y = coords[index]
            mosaic[top : top + tile_display_px, left : left + tile_display_px] = slide.read_region(
                int(x), int(y), size0, tile_display_px
            )
    title_px = 0.4 * FIGURE_DPI
    figure_w, figure_h = mosaic.shape[1], mosaic.shape[0] + title_px
    figure = plt.figure(figsize=(figure_w / FIGURE_DPI, figure_h / FIGURE_DPI), dpi=FIGURE_DPI)
    figure.figimage(mosaic, xo=0, yo=0, origin="upper")
    for n, index in enumerate(order):
        x, y = coords[index]
        centre = (n % columns) * cell_w + tile_display_px / 2
        baseline = mosaic.shape[0] - (n // columns) * cell_h - caption + 4  # px above the figure's bottom
        label = f"score {scores[index]:.3g}\n({x}, {y})"
        figure.text(centre / figure_w, baseline / figure_h, label, ha="center", va="bottom", fontsize=6)
    figure.text(0.5, 1 - 0.08 * FIGURE_DPI / figure_h, title, ha="center", va="top", fontsize=9)
    save(figure, path)

"""Per-slide figures: heatmap with colour bar and outlines, and the top-scoring tiles."""

from __future__ import annotations

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


def image_figure(image: np.ndarray, title: str, side_inches: float):
    """A figure showing `image` about 9 inches on its longer side, titled, with `side_inches` of room at the
    right for a colour bar or legend."""
    height, width = image.shape[:2]
    scale = 9 / max(width, height)
    figure, axis = plt.subplots(figsize=(width * scale + side_inches, height * scale + 0.6), dpi=150)
    axis.imshow(image)
    axis.set_axis_off()
    axis.set_title(title, fontsize=10)
    return figure, axis


def save_heatmap_figure(
    path, image: np.ndarray, title: str, cmap: str, score_label: str, legend: list[tuple[str, tuple]]
) -> None:
    figure, axis = image_figure(image, title, 1.6)
    bar = figure.colorbar(plt.cm.ScalarMappable(Normalize(0, 1), colormaps[cmap]), ax=axis, fraction=0.035, pad=0.01)
    bar.set_label(score_label, fontsize=8)
    if legend:
        axis.legend(
            handles=[Line2D([0], [0], color=np.array(c) / 255, lw=2, label=name) for name, c in legend],
            loc="lower right",
            fontsize=7,
            framealpha=0.8,
        )
    save(figure, path, bbox_inches="tight")


def save_gallery(
    path, slide_path, coords: np.ndarray, scores: np.ndarray, size0: int, k: int, title: str, tile_display_px: int = 224
) -> None:
    """The k highest-scoring tiles, read at display size from the best pyramid level."""
    order = np.argsort(scores)[::-1][:k]
    columns = min(4, max(1, len(order)))
    rows = max(1, -(-len(order) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.4 * rows + 0.4), dpi=120, squeeze=False)
    with Slide(slide_path, require_mpp=False) as slide:
        for axis, index in zip(axes.flat, order, strict=False):
            x, y = coords[index]
            axis.imshow(slide.read_region(int(x), int(y), size0, tile_display_px))
            axis.set_title(f"score {scores[index]:.3g}\n({x}, {y})", fontsize=7)
    for axis in axes.flat:
        axis.set_axis_off()
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    save(figure, path)

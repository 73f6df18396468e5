"""The stain normalisation QC grid: for each of a few slides, the same tiles before and after normalisation."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from slidesnake.core.atomic import atomic_output  # noqa: E402

GAP_PX = 4


def montage(tiles: np.ndarray) -> np.ndarray:
    """N x H x W x 3 uint8 side by side with white gaps."""
    n, h, w, _ = tiles.shape
    out = np.full((h, n * w + (n - 1) * GAP_PX, 3), 255, np.uint8)
    for k in range(n):
        out[:, k * (w + GAP_PX) : k * (w + GAP_PX) + w] = tiles[k]
    return out


def save_stain_grid(path: str | Path, rows: list[tuple[str, np.ndarray, np.ndarray]], title: str) -> None:
    """rows: (slide id, tiles before, the same tiles after), N x H x W x 3 uint8 each; one row per slide."""
    n = max(len(before) for _, before, _ in rows)
    figure, axes = plt.subplots(
        len(rows), 2, figsize=(2 * 1.25 * n + 1.0, 1.35 * len(rows) + 0.7), dpi=110, squeeze=False
    )
    for r, (slide, before, after) in enumerate(rows):
        for c, (tiles, name) in enumerate(((before, "before"), (after, "after"))):
            axis = axes[r, c]
            axis.imshow(montage(tiles))
            axis.set_xticks([])
            axis.set_yticks([])
            if r == 0:
                axis.set_title(name, fontsize=11)
            if c == 0:
                axis.set_ylabel(slide, fontsize=9, rotation=0, ha="right", va="center")
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="jpg", pil_kwargs={"quality": 90})
    plt.close(figure)

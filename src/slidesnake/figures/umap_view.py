"""UMAP of tile features: 3-D embedding as RGB drawn at tile positions over each thumbnail, and a 2-D
scatter coloured by slide label and by tile score."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from slidesnake.figures.qc import draw_tiles  # noqa: E402


def sample_tiles(counts: list[int], max_tiles: int, seed: int) -> list[np.ndarray]:
    """Indices to keep per slide, at most `max_tiles` in all, spread evenly over slides."""
    rng = np.random.default_rng(seed)
    share = max_tiles / max(1, sum(counts))
    return [
        np.sort(rng.choice(n, min(n, max(1, int(np.ceil(n * share)))), replace=False)) if n else np.zeros(0, int)
        for n in counts
    ]


def umap_embedding(features: np.ndarray, dims: int, seed: int, neighbours: int = 15) -> np.ndarray:
    import umap

    reducer = umap.UMAP(
        n_components=dims, n_neighbors=min(neighbours, max(2, len(features) - 1)), min_dist=0.1, random_state=seed
    )
    return reducer.fit_transform(StandardScaler().fit_transform(features))


def as_rgb(embedding: np.ndarray) -> np.ndarray:
    """3-D embedding to colours: each axis scaled to 0-255 by its 1st-99th percentile."""
    low, high = np.percentile(embedding, 1, axis=0), np.percentile(embedding, 99, axis=0)
    return (np.clip((embedding - low) / np.maximum(high - low, 1e-9), 0, 1) * 255).astype(np.uint8)


def rgb_view(
    thumbnail: np.ndarray, coords: np.ndarray, colours: np.ndarray, size0: int, downsample: float
) -> np.ndarray:
    return draw_tiles(thumbnail, coords, size0, downsample, colours, filled=True)


def scatter_figure(path, embedding: np.ndarray, labels: np.ndarray, scores: np.ndarray | None, title: str) -> None:
    panels = 2 if scores is not None else 1
    figure, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 4.2), dpi=130, squeeze=False)
    axis = axes[0, 0]
    for i, name in enumerate(sorted(set(labels))):
        chosen = labels == name
        axis.scatter(embedding[chosen, 0], embedding[chosen, 1], s=3, alpha=0.6, color=plt.cm.tab10(i), label=name)
    axis.legend(markerscale=4, fontsize=7)
    axis.set(title="slide label", xticks=[], yticks=[], xlabel="UMAP 1", ylabel="UMAP 2")
    if scores is not None:
        axis = axes[0, 1]
        points = axis.scatter(embedding[:, 0], embedding[:, 1], s=3, c=scores, cmap="inferno", vmin=0, vmax=1)
        figure.colorbar(points, ax=axis, fraction=0.04, label="tile tumor probability")
        axis.set(title="tile score", xticks=[], yticks=[], xlabel="UMAP 1")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)

"""Tile-class figures: a slide's prediction map (class colours over its thumbnail), per-class QuPath regions,
the most confident tiles of each class, the classifier's confusion matrix and training curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from slidesnake.figures.heatmap import HEATMAP_MAX_SIDE, paint_scores  # noqa: E402
from slidesnake.figures.slide_figures import image_figure, save  # noqa: E402
from slidesnake.io.geojson import feature_collection, mask_polygons  # noqa: E402
from slidesnake.io.slide import Slide  # noqa: E402

# NCT-CRC-HE-100K's classes in colours a pathologist reads at a glance; other classes take tab20 colours
KNOWN_COLOURS = {
    "adipose": (255, 230, 120),
    "background": (230, 230, 230),
    "debris": (140, 90, 60),
    "lymphocytes": (60, 60, 200),
    "mucus": (120, 200, 230),
    "muscle": (200, 80, 120),
    "normal": (80, 180, 80),
    "stroma": (240, 150, 200),
    "tumor": (220, 30, 30),
}


def class_colours(classes: list[str]) -> list[tuple[int, int, int]]:
    palette = plt.cm.tab20(np.linspace(0, 1, 20))[:, :3] * 255
    return [KNOWN_COLOURS.get(c.lower(), tuple(int(v) for v in palette[i % 20])) for i, c in enumerate(classes)]


def paint_classes(
    coords: np.ndarray, probabilities: np.ndarray, size0: int, level0: tuple[int, int], downsample: float
) -> tuple[np.ndarray, np.ndarray]:
    """(class index per pixel, its mean probability) at `downsample`; -1 where no tile lies."""
    mean, covered = paint_scores(coords, probabilities, size0, level0, downsample)
    return np.where(covered, mean.argmax(-1), -1), mean.max(-1)


def render_class_map(
    slide_path, coords: np.ndarray, probabilities: np.ndarray, size0: int, classes: list[str], alpha: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """(thumbnail with class colours, class index map, downsample); memory bounded by the thumbnail."""
    with Slide(slide_path, require_mpp=False) as slide:
        level0 = slide.dimensions
        thumbnail, downsample = slide.read_thumbnail(HEATMAP_MAX_SIDE)
    labels, confidence = paint_classes(coords, probabilities, size0, level0, downsample)
    colours = np.array(class_colours(classes), np.float32)
    covered = labels >= 0
    blend = (alpha * confidence * covered)[..., None]
    image = thumbnail.astype(np.float32) * (1 - blend) + colours[np.maximum(labels, 0)] * blend
    return image.astype(np.uint8), labels, downsample


def class_regions(labels: np.ndarray, classes: list[str], downsample: float, slide_id: str) -> dict:
    """QuPath GeoJSON with one annotation per connected region of each predicted class (level-0 px)."""
    features = []
    for index, (name, colour) in enumerate(zip(classes, class_colours(classes), strict=False)):
        polygons = mask_polygons(labels == index, (downsample, downsample))
        features += feature_collection(polygons, name, colour, {"slide_id": slide_id})["features"]
    return {"type": "FeatureCollection", "features": features}


def save_class_map(path, image: np.ndarray, classes: list[str], shares: np.ndarray, title: str) -> None:
    figure, axis = image_figure(image, title, 2.4)
    handles = [
        Patch(color=np.array(c) / 255, label=f"{name} {100 * share:.0f}%")
        for name, c, share in zip(classes, class_colours(classes), shares, strict=False)
    ]
    axis.legend(
        handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, title="tiles", title_fontsize=7
    )
    save(figure, path, bbox_inches="tight")


def save_gallery(path, tiles_by_class: dict[str, list[tuple[np.ndarray, float, str]]]) -> None:
    """Rows: classes; columns: their most confident tiles (image, probability, slide)."""
    columns = max(1, max(len(v) for v in tiles_by_class.values()))
    figure, axes = plt.subplots(
        len(tiles_by_class), columns, figsize=(1.6 * columns, 1.75 * len(tiles_by_class)), dpi=120, squeeze=False
    )
    for row, (name, tiles) in enumerate(tiles_by_class.items()):
        for column in range(columns):
            axis = axes[row, column]
            axis.set_axis_off()
            if column < len(tiles):
                image, probability, slide = tiles[column]
                axis.imshow(image)
                axis.set_title(f"{probability:.2f} {slide}", fontsize=5)
        axes[row, 0].text(-0.1, 0.5, name, transform=axes[row, 0].transAxes, ha="right", va="center", fontsize=8)
    figure.suptitle("most confident tiles per class", fontsize=10)
    figure.tight_layout()
    save(figure, path)


def save_confusion_and_curves(path, metrics: dict) -> None:
    """Test confusion matrix (row-normalised, counts written) beside the training curves of both phases."""
    classes = metrics["classes"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(4 + 0.55 * len(classes), 4), dpi=130)
    report = metrics.get("test")
    if report:
        matrix = np.array(report["confusion_matrix"], float)
        left.imshow(matrix / np.maximum(matrix.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
        for (i, j), value in np.ndenumerate(matrix):
            left.text(
                j,
                i,
                f"{int(value)}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if value > matrix.sum(1)[i] / 2 else "black",
            )
        left.set(
            xticks=range(len(classes)),
            yticks=range(len(classes)),
            xlabel="predicted",
            ylabel="true",
            title=f"test: accuracy {report['accuracy']:.3f}, balanced {report['balanced_accuracy']:.3f}",
        )
        left.set_xticklabels(classes, rotation=45, ha="right", fontsize=7)
        left.set_yticklabels(classes, fontsize=7)
    history = metrics["history"]
    epochs = range(1, len(history["train_loss"]) + 1)
    right.plot(epochs, history["train_loss"], label="train loss")
    right.plot(epochs, history["val_loss"], label="validation loss")
    switch = [i for i, p in enumerate(history["phase"]) if p == "finetune"]
    if switch:
        right.axvline(switch[0] + 0.5, color="grey", ls="--", lw=0.8, label="fine-tuning starts")
    right.set(xlabel="epoch", ylabel="loss", title="training")
    right.legend(fontsize=7)
    figure.tight_layout()
    save(figure, path)

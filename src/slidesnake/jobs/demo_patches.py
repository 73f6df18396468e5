"""Rule demo_patches: the demo's labelled patch set, train/<class>/ and test/<class>/ PNG patches."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from slidesnake.core.partitions import TEST, TRAIN
from slidesnake.demo.patches import PATCH_CLASSES, render_patch

PATCH_PX = 224


def run(out_dir: Path, per_class: int, seed: int) -> dict:
    """Render `per_class` training and per_class // 3 test patches of every class."""
    counts = {}
    for split, n in ((TRAIN, per_class), (TEST, max(1, per_class // 3))):
        for index, name in enumerate(PATCH_CLASSES):
            folder = out_dir / split / name
            folder.mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng([seed, index, 0 if split == TRAIN else 1])
            for k in range(n):
                cv2.imwrite(
                    str(folder / f"{name}_{k:04d}.png"),
                    cv2.cvtColor(render_patch(name, rng, PATCH_PX), cv2.COLOR_RGB2BGR),
                )
            counts[f"{split}/{name}"] = n
    return counts

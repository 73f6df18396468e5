"""The viewer's browser check on a finished demo run (tests/test_workflow_demo.py calls it with the run's results),
kept apart so that it can be run on any demo results folder by hand:

    PYTHONPATH=src:tests .venv/bin/python tests/viewer_check.py results/ shots/
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from browser import Browser
from slidesnake.core.labels import TISSUE, TUMOR
from slidesnake.io.annotations import read_label_mask
from slidesnake.io.manifest import read_manifest
from slidesnake.view import assets
from slidesnake.view.layers import COLORMAPS
from slidesnake.view.server import serve
from slidesnake.workflow import paths

LAYER = "tumor/pu/nnpu"


def _viridis_value(rgb: np.ndarray) -> np.ndarray:
    """The colour-map value (0-1) whose viridis colour is nearest to each RGB pixel."""
    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], COLORMAPS["viridis"])[:, 0, ::-1].astype(float)
    distance = ((rgb[:, None, :].astype(float) - lut[None]) ** 2).sum(-1)
    return distance.argmin(1) / 255.0


def check_viewer_in_browser(results: Path, out: Path) -> dict:
    if assets.osd_dir() is None:
        pytest.skip(assets.INSTALL_HELP)
    workdir = results.parent
    manifest = read_manifest(workdir / paths.fill(paths.SLIDE_MANIFEST, cohort=paths.TRAIN_COHORT))
    truths = {s: read_label_mask(workdir / row["truth"]) for s, row in manifest.items() if row.get("truth")}
    slide = max(truths, key=lambda s: (truths[s] == TUMOR).sum())  # the slide with the most tumor
    truth = truths[slide]
    server = serve(results, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with Browser(1200, 800) as browser:
            browser.goto(f"http://127.0.0.1:{server.server_address[1]}/")
            browser.wait_for("window.slidesnakeView && window.slidesnakeView.started")
            # the slide list: every slide's entry shows the chosen model's prediction
            model = browser.js("document.getElementById('model').value")
            task, name = model.split("/")
            oof = pd.read_csv(workdir / paths.fill(paths.OOF_SLIDE_PREDICTIONS, task=task, model=name))
            for row in oof.itertuples():
                entry = browser.js(f"document.querySelector('#slides li[data-slide=\"{row.slide_id}\"]').innerText")
                assert f"prediction: {row.prediction}" in entry and f"label: {row.label}" in entry, entry
            width0, height0 = browser.js(f"slidesnakeView.openSlide('{slide}').then(i => [i.width, i.height])")
            scale = width0 / truth.shape[1], height0 / truth.shape[0]
            _, components, stats, _ = cv2.connectedComponentsWithStats((truth == TUMOR).astype(np.uint8))
            largest = 1 + int(stats[1:, cv2.CC_STAT_AREA].argmax())  # zoom into the largest tumor region
            ys, xs = np.nonzero(components == largest)
            x0, x1 = xs.min() * scale[0], (xs.max() + 1) * scale[0]
            y0, y1 = ys.min() * scale[1], (ys.max() + 1) * scale[1]
            browser.js(f"slidesnakeView.zoomTo({x0}, {y0}, {x1 - x0}, {y1 - y0})")
            browser.js("slidesnakeView.ready()")
            plain = browser.screenshot(out / "slide.png")
            slider = f"document.querySelector('input.opacity[data-layer=\"{LAYER}\"]')"
            set_opacity = f"(s => {{ s.value = %d; s.dispatchEvent(new Event('input')); }})({slider})"
            browser.js(set_opacity % 100)
            browser.js(f"document.querySelector('input.show[data-layer=\"{LAYER}\"]').click()")
            browser.js("slidesnakeView.ready()")
            opaque = browser.screenshot(out / "heatmap.png")
            browser.js(set_opacity % 30)
            browser.js("slidesnakeView.ready()")
            faint = browser.screenshot(out / "heatmap_opacity30.png")
            # each screenshot pixel's level-0 position, from the page's own image-to-window mapping
            (wx0, wy0), (wx1, wy1) = browser.js(
                "[slidesnakeView.imageToWindow(0, 0), slidesnakeView.imageToWindow(1, 1)]"
            )
            view = browser.js(
                "(r => [r.left, r.top, r.right, r.bottom])(document.getElementById('view').getBoundingClientRect())"
            )
            # the tile under the tumor's centre, as a click shows it
            cx, cy = xs.mean() * scale[0], ys.mean() * scale[1]
            point = browser.js(f"slidesnakeView.showPoint({cx:.0f}, {cy:.0f})")
    finally:
        server.shutdown()
        server.server_close()
    left, top, right, bottom = (int(round(v)) for v in view)
    rows, cols = np.mgrid[top + 2 : bottom - 2, left + 2 : right - 2]
    img_x = (cols + 0.5 - wx0) / (wx1 - wx0)
    img_y = (rows + 0.5 - wy0) / (wy1 - wy0)
    tx = np.clip((img_x / scale[0]).astype(int), 0, truth.shape[1] - 1)
    ty = np.clip((img_y / scale[1]).astype(int), 0, truth.shape[0] - 1)
    labels = truth[ty, tx]
    changed = np.abs(opaque[rows, cols].astype(int) - plain[rows, cols].astype(int)).max(-1) > 25
    on_tissue = changed & np.isin(labels, (TISSUE, TUMOR))
    assert on_tissue.mean() > 0.1, "the heatmap covers almost none of the view"
    assert (labels == TUMOR).mean() > 0.03, "the view is not on the tumor"
    values = _viridis_value(opaque[rows, cols][on_tissue])
    auc = roc_auc_score(labels[on_tissue] == TUMOR, values)
    tumor_mean, other_mean = values[labels[on_tissue] == TUMOR].mean(), values[labels[on_tissue] == TISSUE].mean()
    assert auc > 0.75 and tumor_mean > other_mean + 0.1, (auc, tumor_mean, other_mean)
    # the opacity slider: at 30% the overlay is mostly the slide again
    overlay = changed
    to_plain = np.abs(faint[rows, cols].astype(int) - plain[rows, cols].astype(int))[overlay].mean()
    to_opaque = np.abs(faint[rows, cols].astype(int) - opaque[rows, cols].astype(int))[overlay].mean()
    assert to_plain < to_opaque and to_opaque > 15, (to_plain, to_opaque)
    tile = point["tile"]
    assert tile["x"] <= cx < tile["x"] + tile["size_level0"] and tile["y"] <= cy < tile["y"] + tile["size_level0"]
    assert LAYER in point["scores"]
    return {
        "slide": slide,
        "pixel_auc": auc,
        "tumor_mean": tumor_mean,
        "other_mean": other_mean,
        "faint_to_plain": to_plain,
        "faint_to_opaque": to_opaque,
    }


if __name__ == "__main__":
    print(check_viewer_in_browser(Path(sys.argv[1]), Path(sys.argv[2])))

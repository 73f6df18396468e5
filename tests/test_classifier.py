"""The supervised tile classifier: patch sets and their errors, learning, checkpoints, slide predictions and
prediction maps."""

import json
import zipfile

import cv2
import numpy as np
import pytest
import torch

from helpers import make_tiles, run_at_sizes
from slidesnake.classifier.model import load_classifier, save_classifier
from slidesnake.classifier.params import ClassifierParams
from slidesnake.classifier.patches import PatchSetError, assign_splits, read_image, read_patch_set, unpack
from slidesnake.classifier.predict import classify_slide, tile_windows, window_positions
from slidesnake.demo.patches import render_patch
from slidesnake.features.extract import preprocess
from slidesnake.io.slide import Slide
from slidesnake.io.tile_file import TileFile
from slidesnake.jobs import demo_patches, train_classifier
from slidesnake.workflow.config import default_params


def params(**changes) -> ClassifierParams:
    return default_params(ClassifierParams, "classifier", **{"weights": "random", **changes})


def write_images(folder, n, colour=(200, 100, 150), size=32):
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        cv2.imwrite(str(folder / f"p{k}.png"), np.full((size + k % 3, size, 3), colour, np.uint8))


def test_patch_set_layouts_and_splits(tmp_path):
    write_images(tmp_path / "flat" / "tumor", 20)
    write_images(tmp_path / "flat" / "stroma", 30)
    patches = read_patch_set(tmp_path / "flat")
    assert patches.classes == ["stroma", "tumor"] and len(patches) == 50 and set(patches.splits) == {""}
    splits = assign_splits(patches, 0.2, 0.2, seed=0)
    for label, n in ((0, 30), (1, 20)):
        chosen = splits[patches.labels == label]
        assert (chosen == "val").sum() == round(0.2 * n) and (chosen == "test").sum() == round(0.2 * n)
    for split, name in (("Training", "a"), ("Training", "b"), ("Testing", "a"), ("Testing", "b")):
        write_images(tmp_path / "split" / split / name, 10)
    patches = read_patch_set(tmp_path / "split")
    splits = assign_splits(patches, 0.2, 0.2, seed=0)
    assert (splits == "test").sum() == 20 and (splits == "val").sum() == 4 and (splits == "train").sum() == 16
    assert read_image(patches.paths[0], 24).shape == (24, 24, 3)  # mixed sizes are resized


def test_patch_set_errors_name_the_folder_or_file(tmp_path):
    with pytest.raises(PatchSetError, match="patch set folder not found"):
        read_patch_set(tmp_path / "missing")
    write_images(tmp_path / "one" / "tumor", 5)
    with pytest.raises(PatchSetError, match="1 class folder"):
        read_patch_set(tmp_path / "one")
    write_images(tmp_path / "empty" / "tumor", 5)
    (tmp_path / "empty" / "stroma").mkdir()
    (tmp_path / "empty" / "stroma" / "notes.txt").write_text("no images")
    with pytest.raises(PatchSetError, match=f"class folder {tmp_path / 'empty' / 'stroma'} holds no images"):
        read_patch_set(tmp_path / "empty")
    write_images(tmp_path / "bad" / "tumor", 5)
    write_images(tmp_path / "bad" / "stroma", 5)
    (tmp_path / "bad" / "stroma" / "broken.png").write_bytes(b"not a png")
    patches = read_patch_set(tmp_path / "bad")
    broken = next(p for p in patches.paths if p.name == "broken.png")
    with pytest.raises(PatchSetError, match=f"cannot read image {broken}"):
        read_image(broken, 32)
    for split, names in (("train", ["a"]), ("test", ["a", "b"])):
        for name in names:
            write_images(tmp_path / "uneven" / split / name, 4)
    with pytest.raises(PatchSetError, match=r"lacks class folder\(s\) \['b'\]"):
        read_patch_set(tmp_path / "uneven")
    with zipfile.ZipFile(tmp_path / "set.zip", "w") as archive:
        for path in (tmp_path / "bad").rglob("*.png"):
            archive.write(path, f"patches/{path.relative_to(tmp_path / 'bad')}")
    root = unpack(tmp_path / "set.zip", tmp_path / "unpacked")
    assert root.name == "patches" and read_patch_set(root).classes == ["stroma", "tumor"]
    (tmp_path / "plain.txt").write_text("x")
    with pytest.raises(PatchSetError, match="neither a zip nor a tar"):
        unpack(tmp_path / "plain.txt", tmp_path / "unpacked2")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classifier")
    demo_patches.run(folder / "patches", 24, seed=0)
    metrics = train_classifier.run(
        folder / "patches",
        params(finetune_epochs=1, head_epochs=20),
        folder / "model.pt",
        folder / "metrics.json",
        threads=2,
    )
    return folder, metrics


@pytest.mark.slow
def test_a_learnable_patch_set_is_learnt(trained):
    """Seven demo tissue classes, 24 training patches each, a random-weight ResNet18: far above chance."""
    folder, metrics = trained
    report = metrics["test"]
    assert report["n"] == 7 * 8 and report["accuracy"] > 0.8 > 3 / 7
    assert report["top2_accuracy"] >= report["accuracy"]
    assert set(metrics["history"]["phase"]) == {"head", "finetune"}
    assert np.array(report["confusion_matrix"]).sum() == report["n"]
    assert json.loads((folder / "metrics.json").read_text())["classes"][-1] == "tumor"


@pytest.mark.slow
def test_checkpoint_round_trip(trained, tmp_path):
    folder, _ = trained
    net, spec, checkpoint = load_classifier(folder / "model.pt")
    x = preprocess(torch.from_numpy(render_patch("tumor", np.random.default_rng(1))).permute(2, 0, 1)[None], spec)
    save_classifier(
        tmp_path / "again.pt",
        net,
        checkpoint["model"],
        checkpoint["classes"],
        checkpoint["patch_mpp"],
        checkpoint["patch_px"],
        checkpoint["backbone_weights"],
    )
    again, _, _ = load_classifier(tmp_path / "again.pt")
    with torch.no_grad():
        assert torch.allclose(net(x), again(x))
    assert checkpoint["patch_px"] == 224 and checkpoint["patch_mpp"] == 0.5


def test_windows_cover_a_tile_at_the_patch_resolution():
    assert window_positions(512, 224) == [0, 144, 288] and window_positions(200, 224) == [0]
    tiles = torch.arange(2 * 3 * 64 * 64, dtype=torch.float32).view(2, 3, 64, 64)
    windows = tile_windows(tiles, 64, 32)
    assert windows.shape == (2 * 4, 3, 32, 32) and torch.equal(windows[0], tiles[0, :, :32, :32])


@pytest.mark.slow
def test_slide_probabilities_follow_the_tiles_order(trained, tumor_slide, tmp_path):
    folder, _ = trained
    net, spec, checkpoint = load_classifier(folder / "model.pt")
    tiles_h5 = make_tiles(tumor_slide["slide"], tmp_path)
    coords, probabilities, summary = classify_slide(
        net, spec, checkpoint, tumor_slide["slide"], tiles_h5, "s", torch.device("cpu"), 8, 0
    )
    tiles = TileFile.read(tiles_h5)
    assert np.array_equal(coords, tiles.coords) and probabilities.shape == (len(tiles), 7)
    assert np.allclose(probabilities.sum(1), 1, atol=1e-5)
    with Slide(tumor_slide["slide"]) as slide:
        for index in (0, len(tiles) // 2, len(tiles) - 1):
            x, y = tiles.coords[index]
            image = torch.from_numpy(slide.read_region(int(x), int(y), tiles.size0, tiles.tile_px)).permute(2, 0, 1)
            windows = tile_windows(image[None], tiles.tile_px, 224)
            with torch.no_grad():
                expected = torch.softmax(net(preprocess(windows, spec)), 1).mean(0).numpy()
            np.testing.assert_allclose(probabilities[index], expected, atol=1e-4)


PEAK_SCRIPT = """
import json, resource, sys
from dataclasses import replace
from pathlib import Path
import numpy as np
from slidesnake.demo.cohort import write_demo_slide
from slidesnake.demo.plan import plan_cohort
from slidesnake.figures.tile_classes import render_class_map
from slidesnake.workflow.config import default_config
size, folder = int(sys.argv[1]), Path(sys.argv[2])
plan = replace(plan_cohort(default_config()["demo"], 2)[0], width=size, height=size)
write_demo_slide(plan, folder / "s.tiff", folder / "t.png", folder / "a.png", folder / "s.json")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
xs = np.arange(0, size, 512)
coords = np.stack(np.meshgrid(xs, xs), -1).reshape(-1, 2)
probabilities = np.random.default_rng(0).dirichlet(np.ones(7), len(coords)).astype(np.float32)
render_class_map(folder / "s.tiff", coords, probabilities, 512, [str(i) for i in range(7)], 0.5)
print(json.dumps([before / 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))
"""


@pytest.mark.slow
def test_prediction_map_memory_does_not_grow_with_slide_size(tmp_path):
    growth = {
        size: after - before for size, (before, after) in run_at_sizes(PEAK_SCRIPT, (4096, 16384), tmp_path).items()
    }
    assert growth[16384] < growth[4096] + 200, growth

"""Exports read the way CLAM and TRIDENT read them cover exactly the tiles' field of view."""

import cv2
import h5py
import numpy as np
import openslide
import pytest
import torch

from helpers import make_tiles, tiling_params, write_small_slide
from slidesnake.io.exports import TRIDENT_ENCODERS, clam_level, trident_encoder_names
from slidesnake.io.feature_file import WEIGHTS, FeatureAttrs, write_feature_file
from slidesnake.io.slide import Slide, composite_on_white
from slidesnake.io.tile_file import TileFile
from slidesnake.jobs import export_clam, export_trident


def clam_read(slide_path, coords_h5, index):
    """CLAM's read rule, dataset_modules/dataset_h5.py (Whole_Slide_Bag_FP): patch_level and patch_size from
    the coords attributes, then `wsi.read_region(coord, patch_level, (patch_size, patch_size))`."""
    with h5py.File(coords_h5, "r") as f:
        patch_level, patch_size = int(f["coords"].attrs["patch_level"]), int(f["coords"].attrs["patch_size"])
        coord = f["coords"][index]
    with openslide.OpenSlide(str(slide_path)) as wsi:
        return composite_on_white(
            np.asarray(wsi.read_region(tuple(int(c) for c in coord), patch_level, (patch_size, patch_size)))
        )


def trident_read(slide_path, coords_h5, index):
    """TRIDENT's read rule, trident/wsi_objects/WSIPatcher.py (__init__): src and dst pixel sizes are
    10 / magnification, patch_size_src = round(patch_size * dst_pixel_size / src_pixel_size) level-0 pixels."""
    with h5py.File(coords_h5, "r") as f:
        attrs, coord = dict(f["coords"].attrs), f["coords"][index]
    src_pixel, dst_pixel = 10 / attrs["level0_magnification"], 10 / attrs["target_magnification"]
    size_src = round(attrs["patch_size"] * dst_pixel / src_pixel)
    with openslide.OpenSlide(str(slide_path)) as wsi:
        return composite_on_white(np.asarray(wsi.read_region(tuple(int(c) for c in coord), 0, (size_src, size_src))))


def native(slide_path, tiles: TileFile, index, size):
    x, y = tiles.coords[index]
    with Slide(slide_path, require_mpp=False) as slide:
        return slide.read_region(int(x), int(y), tiles.size0, size)


def same_view(a, b, size):
    small = [cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA).astype(float) for image in (a, b)]
    return np.abs(small[0] - small[1]).mean()


def export(slide_path, folder, tiles_path, name):
    features = folder / f"{name}_features.h5"
    tiles = TileFile.read(tiles_path)
    attrs = FeatureAttrs(
        "enc", {WEIGHTS: "random"}, 224, ((0.5,) * 3, (0.25,) * 3), "openslide", "openslide", 0, "fp32", "none", "", {}
    )
    write_feature_file(features, np.random.default_rng(0).random((len(tiles), 8)), tiles, attrs)
    export_clam.run({name: str(tiles_path)}, {"enc": {name: str(features)}}, folder / "clam")
    export_trident.run({name: str(tiles_path)}, {"enc": {name: str(features)}}, folder / "trident")
    return tiles


CASES = {  # slide, sheet mpp, tiling mpp, expected CLAM level
    "CMU at 0.5 um/px (513 level-0 px, only level 0)": ("cmu", None, 0.5, 0),
    "CMU at 1.0 um/px (1026 level-0 px, only level 0)": ("cmu", None, 1.0, 0),
    "TCGA at 1.0 um/px (2048 level-0 px, level 1 at downsample 2.0005)": ("tcga", 0.25, 1.0, 1),
    "TCGA at 0.5 um/px (1024 level-0 px, level 1 is the target resolution)": ("tcga", 0.25, 0.5, 1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_exports_cover_the_tile_field_of_view(case, real_slides, tmp_path):
    key, sheet_mpp, mpp, expected_level = CASES[case]
    slide = real_slides[key]
    tiles_path = make_tiles(slide, tmp_path, key, sheet_mpp, tiling_params(mpp=mpp))
    tiles = export(slide, tmp_path, tiles_path, key)
    assert clam_level(tiles)[0] == expected_level
    clam_file = tmp_path / "clam" / "patches" / f"{key}.h5"
    trident_file = next((tmp_path / "trident").glob(f"*/patches/{key}_patches.h5"))
    for index in (0, len(tiles) // 2):
        reference = native(slide, tiles, index, 256)
        assert same_view(clam_read(slide, clam_file, index), reference, 256) < 3
        assert same_view(trident_read(slide, trident_file, index), reference, 256) < 3
    # the misreading the native file no longer invites: CLAM's read of tile_px pixels at level 0
    if tiles.size0 > 1.1 * tiles.tile_px:
        with openslide.OpenSlide(str(slide)) as wsi:
            wrong = composite_on_white(
                np.asarray(wsi.read_region(tuple(int(c) for c in tiles.coords[0]), 0, (tiles.tile_px, tiles.tile_px)))
            )
        assert same_view(wrong, native(slide, tiles, 0, 256), 256) > 5


def test_export_layouts(tmp_path):
    slide = write_small_slide(tmp_path, slide_id="demo_x", width=2048, height=2048)
    tiles_path = make_tiles(slide["slide"], tmp_path, "demo_x", tiling=tiling_params(mpp=2.0, tile_px=256))
    tiles = export(slide["slide"], tmp_path, tiles_path, "demo_x")
    with h5py.File(tmp_path / "clam" / "patches" / "demo_x.h5") as f:
        attrs = dict(f["coords"].attrs)
        assert attrs["patch_level"] == 1 and attrs["patch_size"] == 256 and attrs["name"] == "demo_x"
        assert list(attrs["level_dim"]) == [512, 512] and np.array_equal(f["coords"][:], tiles.coords)
    with h5py.File(tmp_path / "clam" / "features_enc" / "h5_files" / "demo_x.h5") as f:
        assert f["features"].shape == (len(tiles), 8) and len(f["coords"]) == len(tiles)
    assert torch.load(tmp_path / "clam" / "features_enc" / "pt_files" / "demo_x.pt").shape == (len(tiles), 8)
    folder = tmp_path / "trident" / "5x_256px_0px_overlap"
    with h5py.File(folder / "patches" / "demo_x_patches.h5") as f:
        attrs = dict(f["coords"].attrs)
        assert attrs["patch_size"] == 256 and attrs["patch_size_level0"] == 1024 and attrs["overlap"] == 0
        assert attrs["target_magnification"] == 5 and attrs["level0_magnification"] == 20
    with h5py.File(folder / "features_enc" / "demo_x.h5") as f:
        assert f["features"].shape == (len(tiles), 8) and f["coords"].attrs["patch_size_level0"] == 1024


def test_trident_names_the_encoder_as_trident_does():
    """TRIDENT's slide encoders read `features_{its patch encoder name}` (mean-resnet50 reads features_resnet50,
    trident/Processor.py run_slide_feature_extraction_job): an encoder TRIDENT has takes TRIDENT's name, once."""
    assert TRIDENT_ENCODERS["resnet50_trunc"] == "resnet50" and TRIDENT_ENCODERS["uni"] == "uni_v1"
    # config/examples/demo_hard.yaml: the plain one is TRIDENT's resnet50, the normalised one keeps its name
    assert trident_encoder_names(
        {"resnet50_trunc": ("resnet50_trunc", "none"), "resnet50_macenko": ("resnet50_trunc", "macenko")}
    ) == {"resnet50_trunc": "resnet50", "resnet50_macenko": "resnet50_macenko"}
    # the demo's only encoder is normalised: still the only resnet50
    assert trident_encoder_names({"resnet50_trunc": ("resnet50_trunc", "macenko")}) == {"resnet50_trunc": "resnet50"}
    # models TRIDENT lacks keep their names; a TRIDENT name that is another encoder's own name is not taken
    assert trident_encoder_names(
        {
            "resnet18": ("resnet18", "none"),
            "h": ("timm:vit_small_patch16_224", "none"),
            "my_uni": ("uni", "none"),
            "virchow2": ("virchow2", "none"),
        }
    ) == {"resnet18": "resnet18", "h": "h", "my_uni": "uni_v1", "virchow2": "virchow2"}
    assert trident_encoder_names({"resnet50": ("timm:resnet50", "none"), "trunc": ("resnet50_trunc", "none")}) == {
        "resnet50": "resnet50",
        "trunc": "trunc",
    }


def test_trident_export_folder_carries_tridents_encoder_name(tmp_path):
    slide = write_small_slide(tmp_path, slide_id="demo_y", width=2048, height=2048)
    tiles_path = make_tiles(slide["slide"], tmp_path, "demo_y", tiling=tiling_params(mpp=2.0, tile_px=256))
    tiles = TileFile.read(tiles_path)
    features = {}
    for name, model, stain in (
        ("resnet50_trunc", "resnet50_trunc", "none"),
        ("resnet50_macenko", "resnet50_trunc", "macenko"),
        ("resnet18", "resnet18", "none"),
    ):
        path = tmp_path / f"{name}.h5"
        attrs = FeatureAttrs(
            model,
            {WEIGHTS: "random"},
            224,
            ((0.5,) * 3, (0.25,) * 3),
            "openslide",
            "openslide",
            0,
            "fp32",
            stain,
            "",
            {},
        )
        write_feature_file(path, np.zeros((len(tiles), 4)), tiles, attrs)
        features[name] = {"demo_y": str(path)}
    export_trident.run({"demo_y": str(tiles_path)}, features, tmp_path / "trident")
    export_clam.run({"demo_y": str(tiles_path)}, features, tmp_path / "clam")
    folder = tmp_path / "trident" / "5x_256px_0px_overlap"
    assert sorted(p.name for p in folder.glob("features_*")) == [
        "features_resnet18",
        "features_resnet50",
        "features_resnet50_macenko",
    ]
    with h5py.File(folder / "features_resnet50" / "demo_y.h5") as f:  # where mean-resnet50 looks
        assert f["features"].shape == (len(tiles), 4)
    # CLAM is given its feature folder (--data_root_dir / --feat_dir): the workflow's names stay
    assert sorted(p.name for p in (tmp_path / "clam").glob("features_*")) == [
        "features_resnet18",
        "features_resnet50_macenko",
        "features_resnet50_trunc",
    ]

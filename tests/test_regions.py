"""HIPT's hierarchy: the region grid, ViT-4K, the published checkpoint layout, region features."""

import numpy as np
import pytest
import torch

from helpers import mask_params, run_at_sizes
from slidesnake.features.encoders import EncoderError, build_encoder
from slidesnake.features.extract import preprocess
from slidesnake.features.hipt import VisionTransformer4K, build_vit4k, build_vit256, load_published
from slidesnake.features.params import RegionFeatureParams
from slidesnake.features.regions import encode_regions, load_region_encoder
from slidesnake.io.feature_file import read_feature_file
from slidesnake.io.region_file import read_patch_tissue
from slidesnake.io.slide import Slide
from slidesnake.io.tile_file import TileFile
from slidesnake.jobs import tile_regions, tissue_mask
from slidesnake.tissue.params import RegionParams, TilingParams
from slidesnake.tissue.regions import make_region_grid, patch_offsets
from slidesnake.tissue.tiling import make_grid
from slidesnake.workflow.config import default_params


def region_params(**changes) -> RegionParams:
    return default_params(RegionParams, "regions", **changes)


def region_feature_params(**changes) -> RegionFeatureParams:
    return default_params(
        RegionFeatureParams,
        "region_features",
        **{"vit256_weights": "random", "vit4k_weights": "random", "num_workers": 0, **changes},
    )


def test_a_regions_patches_tile_it_and_sit_on_the_tile_grid():
    rng = np.random.default_rng(0)
    mask = rng.random((300, 300)) < 0.6
    mask[:, :80] = False
    fractional = make_region_grid(mask, (30.0, 30.0), (9000, 9000), 0.499, 256, 4, 0.5, 0.1)
    assert fractional.size0 == 4 * fractional.patch_size0 == 4 * 257  # whole level-0 patches, even at 0.499 um/px
    level0, mpp0 = (9000, 9000), 0.25
    grid = make_region_grid(mask, (30.0, 30.0), level0, mpp0, 256, 4, 0.5, 0.1)
    assert grid.size0 == 4 * grid.patch_size0 and grid.patch_size0 == 512
    offsets = patch_offsets(4, grid.patch_size0)
    assert (
        offsets.min() == 0 and offsets.max() + grid.patch_size0 == grid.size0 and len(np.unique(offsets, axis=0)) == 16
    )
    tiles = make_grid(
        mask, (30.0, 30.0), level0, mpp0, TilingParams(tile_px=256, mpp=0.5, overlap_px=0, min_tissue=0.0)
    )
    tile_tissue = {tuple(c): f for c, f in zip(tiles.coords, tiles.tissue_fraction, strict=False)}
    for region, tissue in zip(grid.coords, grid.patch_tissue, strict=False):
        for (dx, dy), share in zip(offsets, tissue.ravel(), strict=False):
            key = (region[0] + dx, region[1] + dy)
            if key[0] < level0[0] and key[1] < level0[1]:
                assert tile_tissue[key] == pytest.approx(share, abs=1e-5)
    assert (grid.tissue_fraction >= 0.1).all() and len(grid.coords) > 3


def test_vit4k_shapes():
    model = VisionTransformer4K().eval()
    with torch.no_grad():
        assert model(torch.randn(2, 384, 16, 16)).shape == (2, 192)
        assert model(torch.randn(1, 384, 8, 8)).shape == (1, 192)
        assert model(torch.randn(1, 384, 14, 14)).shape == (1, 192)
    assert model.pos_embed.shape == (1, 197, 192)  # HIPT's table (224 px: 14 x 14 + 1), interpolated


def published_layout(state: dict, head: bool = True) -> dict:
    """A DINO checkpoint as HIPT publishes it: teacher and student, DataParallel and backbone prefixes, and
    the projection head."""
    teacher = {f"module.backbone.{k}": v.clone() for k, v in state.items()}
    if head:
        teacher["module.head.mlp.0.weight"] = torch.zeros(8, 8)
        teacher["module.head.last_layer.weight_g"] = torch.zeros(1, 8)
    return {"teacher": teacher, "student": {k: v + 1 for k, v in teacher.items()}, "epoch": 100}


def test_published_checkpoints_load_and_mismatches_are_named(tmp_path):
    source = VisionTransformer4K().eval()
    torch.save(published_layout(source.state_dict()), tmp_path / "vit4k_xs_dino.pth")
    loaded, origin = build_vit4k(str(tmp_path / "vit4k_xs_dino.pth"), seed=1)
    x = torch.randn(1, 384, 16, 16)
    with torch.no_grad():
        assert torch.allclose(loaded(x), source(x)) and origin.startswith("checkpoint:")
    broken = source.state_dict()
    broken.pop("blocks.0.attn.qkv.weight")
    broken["phi.0.weight"] = torch.zeros(192, 100)
    torch.save(published_layout(broken), tmp_path / "broken.pth")
    with pytest.raises(EncoderError, match=r"missing: \['blocks.0.attn.qkv.weight'\].*phi.0.weight \(192, 100\)"):
        build_vit4k(str(tmp_path / "broken.pth"), seed=1)
    # ViT-256: DINO's ViT-S/16 at 224 px; its 197-token position table is resampled to 256 px (257 tokens)
    dino, _, _ = build_encoder("timm:vit_small_patch16_224", "random")
    state = {k: v for k, v in dino.state_dict().items()}
    torch.save(published_layout(state), tmp_path / "vit256_small_dino.pth")
    vit256, spec, origin = build_vit256(str(tmp_path / "vit256_small_dino.pth"), seed=0)
    assert vit256.state_dict()["pos_embed"].shape == (1, 257, 384) and spec.norm == ((0.5,) * 3, (0.5,) * 3)
    assert torch.equal(vit256.state_dict()["blocks.3.mlp.fc1.weight"], state["blocks.3.mlp.fc1.weight"])
    with pytest.raises(EncoderError, match="have no hub entry"):
        build_vit4k("hub", seed=0)
    with pytest.raises(EncoderError, match="checkpoint not found"):
        load_published(VisionTransformer4K(), tmp_path / "nowhere.pth", "ViT-4K")


@pytest.fixture(scope="module")
def regions_of_a_slide(tumor_slide, tmp_path_factory):
    folder = tmp_path_factory.mktemp("regions")
    files = [folder / f"m{s}" for s in (".png", ".json", ".geojson", "_t.jpg", "_q.jpg")]
    tissue_mask.run(tumor_slide["slide"], "s", None, None, mask_params(), *files)
    tile_regions.run(
        "s", files[0], files[1], region_params(patches_per_side=4, mpp=1.0, min_tissue=0.05), 0.5, folder / "regions.h5"
    )
    return tumor_slide["slide"], folder / "regions.h5", folder


def test_region_features_follow_the_regions_order(regions_of_a_slide):
    slide_path, regions_h5, folder = regions_of_a_slide
    regions = TileFile.read(regions_h5)
    assert len(regions) >= 2 and read_patch_tissue(regions_h5).shape == (len(regions), 4, 4)
    encoder = load_region_encoder(region_feature_params(regions_per_batch=2, keep_patch_tokens=True))
    summary = encode_regions(encoder, slide_path, regions_h5, folder / "features.h5", "s")
    features, coords, attrs = read_feature_file(folder / "features.h5")
    assert features.shape == (len(regions), 192) and np.array_equal(coords, regions.coords)
    assert summary["patches"] == 16 * len(regions) and attrs["vit4k_weights"].startswith("random")
    size0, k = int(regions.attrs["patch_px_level0"]), 4
    with Slide(slide_path) as slide, torch.no_grad():
        for index in (0, len(regions) - 1):
            x, y = regions.coords[index]
            patches = torch.stack(
                [
                    torch.from_numpy(slide.read_region(int(x + dx), int(y + dy), size0, size0)).permute(2, 0, 1)
                    for dx, dy in patch_offsets(k, size0)
                ]
            )
            tokens = encoder.vit256(preprocess(patches, encoder.spec))
            expected = encoder.vit4k(tokens.view(1, k, k, 384).permute(0, 3, 1, 2))[0].numpy()
            np.testing.assert_allclose(features[index], expected, rtol=1e-3, atol=1e-3)


PEAK_SCRIPT = """
import json, resource, sys
from dataclasses import replace
from pathlib import Path
from slidesnake.demo.cohort import write_demo_slide
from slidesnake.demo.plan import plan_cohort
from slidesnake.features.regions import encode_regions, load_region_encoder
from slidesnake.jobs import tile_regions, tissue_mask
from slidesnake.workflow.config import default_config, default_params
from slidesnake.features.params import RegionFeatureParams
from slidesnake.tissue.params import MaskParams, RegionParams
size, folder = int(sys.argv[1]), Path(sys.argv[2])
plan = replace(plan_cohort(default_config()["demo"], 2)[0], width=size, height=size, tumor_fraction=0.2)
write_demo_slide(plan, folder / "s.tiff", folder / "t.png", folder / "a.png", folder / "s.json")
m = [folder / f"m{s}" for s in (".png", ".json", ".geojson", "_t.jpg", "_q.jpg")]
tissue_mask.run(folder / "s.tiff", "s", None, None, default_params(MaskParams, "mask"), *m)
params = default_params(RegionParams, "regions", patches_per_side=2, patch_px=128, mpp=4.0, min_tissue=0.0)
tile_regions.run("s", m[0], m[1], params, 0.5, folder / "r.h5")
encoder = load_region_encoder(default_params(RegionFeatureParams, "region_features", vit256_weights="random",
                                             vit4k_weights="random", num_workers=0, regions_per_batch=1))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
summary = encode_regions(encoder, folder / "s.tiff", folder / "r.h5", folder / "f.h5", "s")
print(json.dumps([summary["regions"], before / 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))
"""


@pytest.mark.slow
def test_region_feature_memory_is_bounded_by_a_batch_of_regions(tmp_path):
    growth = {
        size: (regions, after - before)
        for size, (regions, before, after) in run_at_sizes(PEAK_SCRIPT, (2048, 8192), tmp_path).items()
    }
    assert growth[8192][0] >= 8 * growth[2048][0]  # many more regions ...
    assert growth[8192][1] < growth[2048][1] + 60, growth  # ... in the same memory

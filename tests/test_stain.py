"""Stain normalisation: tiles of demo slides rendered with other sites' stain vectors move to the reference,
near-white tiles pass unchanged, nothing is NaN, results are deterministic; references, features and the
QC grid."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import feature_params, make_tiles, write_small_slide
from slidesnake.core.errors import ConfigError
from slidesnake.demo.geometry import make_layout
from slidesnake.demo.render import SlideRenderer
from slidesnake.features.extract import extract_features
from slidesnake.io.feature_file import read_feature_file
from slidesnake.jobs import stain_qc, stain_reference
from slidesnake.stain.methods import MACENKO, METHODS, NONE, REINHARD
from slidesnake.stain.normalise import (
    FIT,
    StainNormaliser,
    StainReference,
    fit_pixels,
    fit_reference,
    lalphabeta,
    stained,
)
from slidesnake.stain.optical_density import optical_density
from slidesnake.stain.params import StainParams
from slidesnake.workflow.config import check_config, default_config, default_params, load_schema

SITE_SHIFT = 0.4  # stain batches far apart (the hard demo uses 0.1)


def site_tiles(site: int, seed: int, count: int = 8, size: int = 224) -> torch.Tensor:
    """Tissue-rich tiles of a demo slide stained at `site`, float 0-255 N x 3 x size x size."""
    rng = np.random.default_rng(seed)
    renderer = SlideRenderer(make_layout(rng, 8192, 8192, 0.3, False), seed, 1.0, site, SITE_SHIFT)
    tiles = []
    while len(tiles) < count:
        x, y = rng.integers(0, 8192 - size, 2)
        rgb, tissue, _ = renderer.render(int(x), int(y), size, size)
        if tissue.mean() > 0.7:
            tiles.append(rgb)
    return torch.from_numpy(np.stack(tiles)).permute(0, 3, 1, 2).float()


@pytest.fixture(scope="module")
def reference_tiles():
    return site_tiles(site=0, seed=1)


@pytest.fixture(scope="module", params=METHODS)
def reference(request, reference_tiles):
    return fit_reference(request.param, reference_tiles, "site 0")


def same_pixel_colour(before: torch.Tensor, after: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """l-alpha-beta mean and std of each tile's stained pixels (chosen before normalisation) after it."""
    mask = stained(optical_density(fit_pixels(before)))
    lab, weights = lalphabeta(fit_pixels(after)), mask.float()[..., None]
    mean = (lab * weights).sum(1) / mask.sum(1)[:, None]
    std = (((lab - mean[:, None]) ** 2 * weights).sum(1) / mask.sum(1)[:, None]).sqrt()
    return mean, std


@pytest.mark.parametrize("site", [1, 2, 3])
def test_other_sites_move_to_the_reference(reference, reference_tiles, site):
    """Reinhard: the colour statistics, Macenko: the fitted stain vectors lose >= 70% of their distance to
    the reference."""
    tiles = site_tiles(site, seed=10 + site)
    out = StainNormaliser(reference)(tiles)
    target = reference.tensors("cpu")
    if reference.method == REINHARD:
        for before_stats, after_stats, key in zip(
            same_pixel_colour(tiles, tiles), same_pixel_colour(tiles, out), ("lab_mean", "lab_std"), strict=False
        ):
            before = (before_stats - target[key]).norm(dim=1).mean()
            after = (after_stats - target[key]).norm(dim=1).mean()
            assert after <= 0.3 * before, (key, before, after)
    if reference.method == MACENKO:
        vectors = reference.tensors("cpu")["stain_matrix"]
        distance = {}
        for name, x in (("before", tiles), ("after", out)):
            fitted, valid = FIT[MACENKO](x)
            assert valid.all()
            distance[name] = (fitted["stain_matrix"] - vectors).norm(dim=(1, 2)).mean()
        assert distance["after"] <= 0.3 * distance["before"], distance


def test_near_white_tiles_pass_unchanged(reference):
    glass = torch.full((1, 3, 224, 224), 238.0) + torch.randn(1, 3, 224, 224).clamp(-2, 2)
    faint = glass.clone()
    faint[:, :, :8, :8] = 120.0  # a speck of stain on 0.1% of the pixels
    batch = torch.cat([glass, faint, site_tiles(2, seed=5, count=2)])
    out = StainNormaliser(reference)(batch)
    assert torch.equal(out[:2], batch[:2])
    assert not torch.equal(out[2:], batch[2:])


@pytest.mark.parametrize(
    "name,tiles",
    [
        ("black", torch.zeros(2, 3, 64, 64)),
        ("white", torch.full((2, 3, 64, 64), 255.0)),
        ("one colour", torch.tensor([150.0, 60.0, 170.0]).view(1, 3, 1, 1).expand(2, 3, 64, 64).clone()),
        ("noise", torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 255),
        ("one pixel", torch.rand(3, 3, 1, 1, generator=torch.Generator().manual_seed(1)) * 255),
        ("empty", torch.zeros(0, 3, 32, 32)),
    ],
)
def test_never_nan_and_in_range(reference, name, tiles):
    out = StainNormaliser(reference)(tiles)
    assert out.shape == tiles.shape and torch.isfinite(out).all()
    assert (out >= 0).all() and (out <= 255).all()


def test_deterministic_and_independent_of_the_batch(reference):
    tiles = torch.cat([site_tiles(1, seed=21, count=3), torch.full((1, 3, 224, 224), 240.0)])
    normalise = StainNormaliser(reference)
    together = normalise(tiles)
    assert torch.equal(together, normalise(tiles))
    alone = torch.cat([normalise(tiles[k : k + 1]) for k in range(len(tiles))])
    assert torch.allclose(together, alone, atol=0.05)


def test_reference_round_trip_and_errors(tmp_path, reference):
    path = tmp_path / "reference.json"
    reference.write(path)
    again = StainReference.read(path)
    assert again.method == reference.method and again.values == reference.values
    with pytest.raises(ConfigError, match="stain.reference.*no tile of the stain reference .* has enough stain"):
        fit_reference(reference.method, torch.full((3, 3, 64, 64), 245.0), "blank glass")
    with pytest.raises(ValueError, match="unknown stain normalisation 'vahadane'"):
        StainNormaliser(replace(reference, method="vahadane"))


def stain_params(**changes) -> StainParams:
    return default_params(StainParams, "stain", **changes)


def test_reference_from_an_image_and_a_bad_image(tmp_path, reference_tiles):
    image = tmp_path / "reference.png"
    mosaic = reference_tiles[:4].permute(0, 2, 3, 1).reshape(4 * 224, 224, 3).byte().numpy()
    Image.fromarray(mosaic).save(image)
    out = tmp_path / "ref.json"
    stain_reference.run(MACENKO, stain_params(reference=str(image)), {}, out)
    fitted = StainReference.read(out)
    assert fitted.tiles == 4 and str(image) in fitted.source
    expected = fit_reference(MACENKO, reference_tiles[:4], "x")
    assert np.allclose(fitted.values["stain_matrix"], expected.values["stain_matrix"], atol=1e-3)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    with pytest.raises(ConfigError, match=r"stain.reference.*broken.png"):
        stain_reference.run(MACENKO, stain_params(reference=str(broken)), {}, out)


@pytest.fixture(scope="module")
def two_site_slides(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stain_slides")
    slides = {}
    for site in (0, 2):
        slide = write_small_slide(
            folder, slide_id=f"site{site}", site=site, site_stain_shift=SITE_SHIFT, width=3072, height=3072
        )
        slides[f"site{site}"] = {"slide": slide["slide"], "tiles": make_tiles(slide["slide"], folder, f"site{site}")}
    return slides


def test_cohort_reference_features_and_qc_grid(tmp_path, two_site_slides):
    """The cohort reference, features normalised to it (recorded in the attributes, different from plain
    features), and the before / after grid."""
    params = stain_params(tiles_per_slide=6, fit_px=64)
    reference_json = tmp_path / "reference.json"
    stain_reference.run(MACENKO, params, two_site_slides, reference_json)
    reference = StainReference.read(reference_json)
    assert reference.extra["slides"] == ["site0", "site2"] and reference.tiles >= 8
    files = two_site_slides["site2"]
    small = feature_params(batch_size=8, num_workers=0)
    extract_features(files["slide"], files["tiles"], tmp_path / "plain.h5", small, "site2")
    extract_features(
        files["slide"],
        files["tiles"],
        tmp_path / "macenko.h5",
        replace(small, stain=MACENKO),
        "site2",
        stain_reference=reference_json,
    )
    plain, _, plain_attrs = read_feature_file(tmp_path / "plain.h5")
    normalised, _, attrs = read_feature_file(tmp_path / "macenko.h5")
    assert plain_attrs["stain_normalisation"] == "none" and attrs["stain_normalisation"] == MACENKO
    assert '"method": "macenko"' in attrs["stain_reference"]
    assert plain.shape == normalised.shape and not np.allclose(plain, normalised)
    with pytest.raises(ValueError, match="normalises stain .* no reference"):
        extract_features(files["slide"], files["tiles"], tmp_path / "x.h5", replace(small, stain=MACENKO), "site2")
    grid = tmp_path / "qc.jpg"
    stain_qc.run(reference_json, params, two_site_slides, grid)
    with Image.open(grid) as image:
        assert image.width > 600 and image.height > 250


def test_encoder_stain_default_and_bad_value():
    """The schema's choices are exactly the implemented methods (plus none); none is the default."""
    entry = load_schema("config")["properties"]["features"]["properties"]["encoders"]["additionalProperties"]
    assert entry["properties"]["stain"]["enum"] == [NONE, *METHODS] and set(METHODS) == set(FIT)
    config = default_config()
    config["features"]["encoders"] = {"plain": {"weights": "random"}}
    assert check_config(config)["features"]["encoders"]["plain"]["stain"] == "none"
    config["features"]["encoders"] = {"x": {"weights": "random", "stain": "vahadane"}}
    with pytest.raises(ConfigError, match=r"features.encoders.x.stain"):
        check_config(config)


def mean_optical_density(tiles: torch.Tensor) -> torch.Tensor:
    return optical_density(fit_pixels(tiles)).mean((1, 2))


def test_a_slide_fit_keeps_the_density_differences_between_tiles(reference_tiles):
    """Per tile, Macenko scales each tile's concentrations to the reference's maxima, so a tile stained 1.6 times
    denser comes out like its lighter copy; one fit for the whole slide keeps it denser."""
    reference = fit_reference(MACENKO, reference_tiles, "site 0")
    light = site_tiles(site=2, seed=5, count=4)
    dense = ((light + 1) / 256) ** 1.6 * 256 - 1  # optical density x 1.6: the same tissue, denser stain
    slide = torch.cat([light, dense])
    per_tile = StainNormaliser(reference)(slide)
    per_slide = StainNormaliser(reference).for_slide(slide, "s")(slide)
    ratio_tile = mean_optical_density(per_tile[4:]) / mean_optical_density(per_tile[:4])
    ratio_slide = mean_optical_density(per_slide[4:]) / mean_optical_density(per_slide[:4])
    assert (ratio_tile < 1.1).all() and (ratio_slide > 1.4).all(), (ratio_tile, ratio_slide)
    # one map for the slide: a tile comes out the same in any batch
    torch.testing.assert_close(StainNormaliser(reference).for_slide(slide, "s")(slide[5:6]), per_slide[5:6])


def test_a_slide_without_stain_keeps_the_per_tile_fit(caplog, reference_tiles):
    normaliser = StainNormaliser(fit_reference(MACENKO, reference_tiles, "site 0"))
    glass = torch.full((3, 3, 64, 64), 250.0)
    assert normaliser.for_slide(glass, "blank") is normaliser and "blank: no sampled tile" in caplog.text


def test_features_with_a_slide_stain_fit(tmp_path, two_site_slides):
    """stain_fit: slide encodes every tile with the slide's one fit: other features than the per-tile fit."""
    reference_json = tmp_path / "reference.json"
    stain_reference.run(MACENKO, stain_params(tiles_per_slide=6, fit_px=64), two_site_slides, reference_json)
    files = two_site_slides["site2"]
    small = replace(feature_params(batch_size=8, num_workers=0), stain=MACENKO)
    for fit in ("tile", "slide"):
        extract_features(
            files["slide"],
            files["tiles"],
            tmp_path / f"{fit}.h5",
            replace(small, stain_fit=fit),
            "site2",
            stain_reference=reference_json,
        )
    per_tile, _, _ = read_feature_file(tmp_path / "tile.h5")
    per_slide, _, attrs = read_feature_file(tmp_path / "slide.h5")
    assert per_tile.shape == per_slide.shape and np.isfinite(per_slide).all()
    assert not np.allclose(per_tile, per_slide) and '"stain_fit": "slide"' in attrs["params_json"]

"""tiling.import_coordinates: CLAM's and TRIDENT's patch files, written by this workflow's own exports from the
real slides, import back as the very tiles the native grid made; another field of view or a missing file fails
with its named error."""

from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from helpers import feature_params, make_tiles, run_snakemake, tiling_params
from slidesnake.core.errors import ConfigError, FieldOfViewError, InputFileError
from slidesnake.io.exclusion import h5_exclusion
from slidesnake.io.feature_file import WEIGHTS, FeatureAttrs, read_feature_file, write_feature_file
from slidesnake.io.imports import read_features
from slidesnake.io.tile_file import IMPORTED_FILE, IMPORTED_FROM, TileFile
from slidesnake.jobs import export_clam, export_trident, extract_features, tile_slide
from slidesnake.workflow import paths
from slidesnake.workflow.cohort import load_cohort
from slidesnake.workflow.config import default_config
from slidesnake.workflow.inputs import RuleInputs

CASES = {  # slide, sheet mpp, tiling mpp
    "CMU at 0.5 um/px (level 0)": ("cmu", None, 0.5),
    "TCGA at 1.0 um/px (CLAM reads level 1, downsample 2.0005: 2048.5 level-0 px)": ("tcga", 0.25, 1.0),
    "TCGA at 0.5 um/px (CLAM reads level 1)": ("tcga", 0.25, 0.5),
}


def exported(slide, folder, key, sheet_mpp, params):
    """The native tiles file of a real slide and its CLAM and TRIDENT patch files from the exports."""
    native = make_tiles(slide, folder, key, sheet_mpp, params)
    export_clam.run({key: str(native)}, {}, folder / "clam")
    export_trident.run({key: str(native)}, {}, folder / "trident")
    trident_folder = next((folder / "trident").iterdir())
    return native, {
        paths.CLAM: Path(paths.fill(paths.PEER_PATCHES[paths.CLAM], folder=folder / "clam", slide=key)),
        paths.TRIDENT: Path(paths.fill(paths.PEER_PATCHES[paths.TRIDENT], folder=trident_folder, slide=key)),
    }


def import_tiles(folder, key, params, imported, strict=True, name="imported"):
    """Run tile_slide on the slide's mask (made by make_tiles) with imported coordinates; the tiles file."""
    out = folder / f"{key}_{name}.h5"
    tile_slide.run(
        key,
        folder / f"{key}.png",
        folder / f"{key}.json",
        folder / f"{key}_thumbnail.jpg",
        None,
        params,
        out,
        folder / f"{key}_{name}_qc.jpg",
        strict=strict,
        imported=imported,
    )
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_imported_tiles_equal_the_native_ones(case, real_slides, tmp_path):
    key, sheet_mpp, mpp = CASES[case]
    params = tiling_params(mpp=mpp)
    native_path, files = exported(real_slides[key], tmp_path, key, sheet_mpp, params)
    native = TileFile.read(native_path)
    assert len(native) > 0
    for tool, file in files.items():
        imported = TileFile.read(import_tiles(tmp_path, key, params, (tool, file), name=tool))
        assert len(imported) == len(native), tool
        assert imported.size0 == native.size0 and np.array_equal(imported.coords, native.coords), tool
        assert np.array_equal(imported.tissue_fraction, native.tissue_fraction), tool
        assert np.array_equal(imported.grid_row_col, native.grid_row_col), tool
        assert imported.stride0 == native.stride0 and imported.attrs["grid_rows"] == native.attrs["grid_rows"]
        assert imported.attrs[IMPORTED_FROM] == tool and imported.attrs[IMPORTED_FILE] == str(file)
        assert imported.attrs["min_tissue"] == 0 and native.attrs["min_tissue"] == params.min_tissue
        assert native.attrs[IMPORTED_FROM] == "" and native.attrs[IMPORTED_FILE] == ""


def test_trident_file_without_level0_side_reads_the_magnifications(real_slides, tmp_path):
    params = tiling_params(mpp=1.0)
    native, files = exported(real_slides["tcga"], tmp_path, "tcga", 0.25, params)
    with h5py.File(files[paths.TRIDENT], "a") as h5:
        del h5["coords"].attrs["patch_size_level0"]  # TRIDENT's own name (slidesnake.io.exports)
    imported = TileFile.read(import_tiles(tmp_path, "tcga", params, (paths.TRIDENT, files[paths.TRIDENT])))
    assert np.array_equal(imported.coords, TileFile.read(native).coords)


def test_another_field_of_view_fails_naming_slide_file_and_both(real_slides, tmp_path):
    params = tiling_params(mpp=0.5)
    _, files = exported(real_slides["cmu"], tmp_path, "cmu", None, params)
    with h5py.File(files[paths.CLAM], "a") as h5:
        h5["coords"].attrs["patch_size"] = 2 * h5["coords"].attrs["patch_size"]  # the 10x file of a 20x config
    for strict in (True, False):  # a wrong import is no slide's fault: never an exclusion
        with pytest.raises(FieldOfViewError) as error:
            import_tiles(tmp_path, "cmu", params, (paths.CLAM, files[paths.CLAM]), strict=strict)
        message = str(error.value)
        assert "'cmu'" in message and str(files[paths.CLAM]) in message
        assert "512.0 um" in message and "256.0 um" in message  # 1026 px x 0.499 um/px; 512 px x 0.5 um/px


def test_missing_file_names_path_and_slide_or_excludes_the_slide(real_slides, tmp_path):
    params = tiling_params(mpp=0.5)
    make_tiles(real_slides["cmu"], tmp_path, "cmu", None, params)
    missing = tmp_path / "clam" / "patches" / "cmu.h5"
    with pytest.raises(InputFileError) as error:
        import_tiles(tmp_path, "cmu", params, (paths.CLAM, missing))
    assert str(missing) in str(error.value) and "'cmu'" in str(error.value)
    out = import_tiles(tmp_path, "cmu", params, (paths.CLAM, missing), strict=False)
    assert len(TileFile.read(out)) == 0 and str(missing) in h5_exclusion(out).reason


def test_coordinates_outside_the_slide_and_missing_attributes_are_named(real_slides, tmp_path):
    params = tiling_params(mpp=0.5)
    _, files = exported(real_slides["cmu"], tmp_path, "cmu", None, params)
    clam = files[paths.CLAM]
    with h5py.File(clam, "a") as h5:
        coords = h5["coords"][:]
        coords[0] = (5000, 10)  # CMU is 2220 x 2967 px
        h5["coords"][...] = coords
    with pytest.raises(InputFileError, match=r"1 tiles start outside the 2220 x 2967 px slide, e.g. at \(5000, 10\)"):
        import_tiles(tmp_path, "cmu", params, (paths.CLAM, clam))
    with h5py.File(files[paths.TRIDENT], "a") as h5:
        for name in ("patch_size_level0", "level0_magnification"):
            del h5["coords"].attrs[name]
    with pytest.raises(InputFileError, match="lacks the attribute 'level0_magnification'"):
        import_tiles(tmp_path, "cmu", params, (paths.TRIDENT, files[paths.TRIDENT]))


def test_the_patch_file_is_an_input_of_the_tiling_and_its_tool_a_param():
    config = default_config(
        demo={"n_slides": 4, "new_slides": 0},
        tiling={"import_coordinates": {"format": "trident", "folder": "/lab/trident/20x_512px_0px_overlap"}},
    )
    inputs = RuleInputs(config, load_cohort(config))
    slide = inputs.cohort.slides()[0]
    wildcards = SimpleNamespace(slide=slide)
    expected = f"/lab/trident/20x_512px_0px_overlap/patches/{slide}_patches.h5"
    assert inputs.imported_tiles(wildcards) == [expected] and inputs.import_format(wildcards) == "trident"
    native = RuleInputs(default_config(demo={"n_slides": 4, "new_slides": 0}), inputs.cohort)
    assert native.imported_tiles(wildcards) == [] and native.import_format(wildcards) == ""


@pytest.mark.workflow
def test_dry_run_shows_the_patch_file_as_tiling_input(tmp_path):
    """Snakemake itself names a slide's missing patch file; present, it is tile_slide's input."""
    folder = tmp_path / "clam"
    (tmp_path / "import.yaml").write_text(f"tiling:\n  import_coordinates: {{format: clam, folder: {folder}}}\n")
    args = ("-n", "tiles", f"--configfile={tmp_path / 'import.yaml'}")
    missing = run_snakemake(tmp_path, *args, check=False)
    assert missing.returncode != 0 and f"{folder}/patches/demo_000.h5" in missing.stdout + missing.stderr
    slides = load_cohort(default_config()).slides()
    for slide in slides:
        patches = Path(paths.fill(paths.PEER_PATCHES[paths.CLAM], folder=folder, slide=slide))
        patches.parent.mkdir(parents=True, exist_ok=True)
        patches.touch()
    planned = run_snakemake(tmp_path, *args).stdout
    assert all(f"{folder}/patches/{slide}.h5" in planned for slide in slides)


# ---- features.encoders.<name>.import_features: CLAM's and TRIDENT's feature files ------------------------------


def native_features(tiles_path: Path, out: Path, dim: int = 16) -> np.ndarray:
    """A features file for the tiles (random values: the import only moves them) and its values."""
    tiles = TileFile.read(tiles_path)
    values = np.random.default_rng(0).normal(size=(len(tiles), dim)).astype(np.float32)
    attrs = FeatureAttrs(
        "resnet50_trunc",
        {WEIGHTS: "random"},
        224,
        ((0.5,) * 3, (0.5,) * 3),
        "openslide",
        "pil",
        0,
        "fp32",
        "none",
        "",
        {},
    )
    write_feature_file(out, values, tiles, attrs)
    return values


def peer_feature_files(slide, folder, key, sheet_mpp, params):
    """Native tiles and features of a real slide, and the CLAM and TRIDENT feature files the exports make of
    them (and the patch files, imported as the tiles)."""
    native, patch_files = exported(slide, folder, key, sheet_mpp, params)
    values = native_features(native, folder / f"{key}_features.h5")
    features = {"resnet50_trunc": {key: str(folder / f"{key}_features.h5")}}
    export_clam.run({key: str(native)}, features, folder / "clam")
    export_trident.run({key: str(native)}, features, folder / "trident")
    imports = {
        paths.CLAM: {
            "format": paths.CLAM,
            "folder": str(folder / "clam" / "features_resnet50_trunc"),
            "encoder": "resnet50_trunc",
        },
        paths.TRIDENT: {
            "format": paths.TRIDENT,
            "folder": str(patch_files[paths.TRIDENT].parent.parent),
            "encoder": "resnet50",
        },  # TRIDENT's name of resnet50_trunc
    }
    peers = {
        tool: Path(paths.fill(paths.PEER_FEATURES[tool], slide=key, **{k: v for k, v in spec.items() if k != "format"}))
        for tool, spec in imports.items()
    }
    return native, values, patch_files, imports, peers


@pytest.mark.parametrize("tool", [paths.CLAM, paths.TRIDENT])
def test_imported_features_are_the_native_ones_on_the_imported_tiles(tool, real_slides, tmp_path):
    params = tiling_params(mpp=0.5)
    native, values, patch_files, imports, peers = peer_feature_files(
        real_slides["tcga"], tmp_path, "tcga", 0.25, params
    )
    tiles = import_tiles(tmp_path, "tcga", params, (tool, patch_files[tool]), name=tool)
    with h5py.File(peers[tool], "a") as h5:  # rows in another order: matched by coordinates, not position
        order = np.random.default_rng(1).permutation(len(h5["coords"]))
        h5["features"][...], h5["coords"][...] = h5["features"][:][order], h5["coords"][:][order]
    out = tmp_path / f"{tool}_features.h5"
    rows = extract_features.run(
        {"tcga": {"slide": str(real_slides["tcga"]), "tiles": str(tiles), "features": str(out)}},
        feature_params(weights=None, import_features=imports[tool]),
        tmp_path / f"{tool}_shard.tsv",
        1,
        imported={"tcga": str(peers[tool])},
    )
    assert rows[0]["error"] == "" and rows[0]["tiles"] == len(values)
    features, coords, attrs = read_feature_file(out)
    assert np.array_equal(features, values) and np.array_equal(coords, TileFile.read(native).coords)
    assert attrs["encoder"] == imports[tool]["encoder"] and str(peers[tool]) in attrs["weights"]
    assert attrs["reader"] == f"imported ({tool})" and attrs["tile_px_level0"] == TileFile.read(native).size0


def test_features_of_other_tiles_or_another_field_of_view_fail_naming_the_file(real_slides, tmp_path):
    params = tiling_params(mpp=0.5)
    native, _, _, _, peers = peer_feature_files(real_slides["cmu"], tmp_path, "cmu", None, params)
    tiles = TileFile.read(native)
    clam = peers[paths.CLAM]
    with h5py.File(clam, "a") as h5:
        coords = h5["coords"][:]
        coords[0] += 7  # one tile of another grid
        h5["coords"][...] = coords
    with pytest.raises(InputFileError) as error:
        read_features(clam, paths.CLAM, "cmu", tiles.coords, tiles.size0)
    assert str(clam) in str(error.value) and "'cmu'" in str(error.value)
    assert f"are not the {len(tiles)} tiles" in str(error.value) and "1 tiles without features" in str(error.value)
    with h5py.File(peers[paths.TRIDENT], "a") as h5:
        h5["coords"].attrs["patch_size_level0"] = 2 * tiles.size0  # features of 10x patches for 20x tiles
    with pytest.raises(InputFileError, match="another field of view"):
        read_features(peers[paths.TRIDENT], paths.TRIDENT, "cmu", tiles.coords, tiles.size0)
    with h5py.File(peers[paths.TRIDENT], "a") as h5:
        del h5["features"]
        h5["features"] = np.zeros((3, 4), np.float32)
    with pytest.raises(InputFileError, match=f"3 feature rows for {len(tiles)} coordinates"):
        read_features(peers[paths.TRIDENT], paths.TRIDENT, "cmu", tiles.coords, tiles.size0)
    with pytest.raises(InputFileError, match="no CLAM feature file for slide 'cmu'"):
        read_features(tmp_path / "none.h5", "CLAM", "cmu", tiles.coords, tiles.size0)


def test_an_encoder_takes_weights_or_imported_features_and_its_files_are_inputs():
    spec = {"format": "trident", "folder": "/lab/20x_512px_0px_overlap", "encoder": "uni_v1"}
    for entry, key in (
        ({"weights": "random", "import_features": spec}, "features.encoders.uni"),
        ({}, "features.encoders.uni"),
        ({"import_features": spec, "stain": "macenko"}, "features.encoders.uni.stain"),
    ):
        with pytest.raises(ConfigError) as error:
            default_config(demo={"n_slides": 4, "new_slides": 0}, features={"encoders": {"uni": entry}})
        assert error.value.key == key
    config = default_config(
        demo={"n_slides": 4, "new_slides": 0},
        features={"encoders": {"uni": {"import_features": spec}, "resnet18": {"weights": "random"}}},
    )
    inputs = RuleInputs(config, load_cohort(config))
    shard = next(iter(inputs.shards))
    imported = inputs.imported_features(SimpleNamespace(encoder="uni", shard=shard))
    assert imported == {s: f"/lab/20x_512px_0px_overlap/features_uni_v1/{s}.h5" for s in inputs.shards[shard]}
    assert inputs.imported_feature_inputs(SimpleNamespace(encoder="uni", shard=shard)) == list(imported.values())
    assert inputs.feature_gpus(SimpleNamespace(encoder="uni")) == 0
    assert inputs.feature_gpus(SimpleNamespace(encoder="resnet18")) == 1
    assert inputs.imported_features(SimpleNamespace(encoder="resnet18", shard=shard)) == {}
    assert inputs.feature_params(SimpleNamespace(encoder="uni"))["import_features"] == spec


@pytest.mark.workflow
def test_dry_run_names_a_missing_imported_feature_file(tmp_path):
    """The imported feature files are extract_features' inputs: Snakemake names a missing one before running."""
    folder = tmp_path / "trident"
    (tmp_path / "import.yaml").write_text(
        "features:\n  encoders:\n    uni:\n"
        f"      import_features: {{format: trident, folder: {folder}, encoder: uni_v1}}\n"
    )
    missing = run_snakemake(tmp_path, "-n", "features", f"--configfile={tmp_path / 'import.yaml'}", check=False)
    assert missing.returncode != 0 and f"{folder}/features_uni_v1/demo_000.h5" in missing.stdout + missing.stderr

"""Feature extraction on CPU: registry shapes, order, determinism, reader equivalence, restarts, weights."""

import urllib.error
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from helpers import feature_params, make_tiles, mask_params, write_small_slide
from slidesnake.core.errors import ConfigError
from slidesnake.features.encoders import REGISTRY, EncoderError, build_encoder, output_dim, spec_for
from slidesnake.features.extract import (
    BF16,
    FP32,
    LoadedEncoder,
    encode_slide,
    extract_features,
    initial_precision,
    load_encoder,
    preprocess,
)
from slidesnake.io.feature_file import read_feature_file
from slidesnake.io.slide import Slide
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_reader import TileDataset, read_geometry

# fp32: these tests compare features with a direct forward pass (bf16 is tested on its own below)
SMALL = feature_params(model="resnet18", weights="random", batch_size=8, num_workers=0, precision="fp32")


@pytest.fixture(scope="module")
def demo_tiles(tumor_slide, tmp_path_factory):
    folder = tmp_path_factory.mktemp("feature_tiles")
    return tumor_slide["slide"], make_tiles(tumor_slide["slide"], folder)


def read_features(path):
    return read_feature_file(path)


@pytest.mark.parametrize(
    "name,dim,size",
    [
        ("resnet50_trunc", 1024, 224),
        ("resnet18", 512, 224),
        ("hipt_vit_s16", 384, 256),
        ("histoencoder_prostate_small", 384, 224),
    ],
)
def test_small_encoders_run_on_cpu(name, dim, size):
    model, spec, source = build_encoder(name, "random")
    assert spec.input_size == size and "random" in source
    with torch.no_grad():
        out = model(torch.rand(2, 3, size, size))
    assert out.shape == (2, dim) == (2, output_dim(model, spec))


@pytest.mark.parametrize(
    "name", ["uni", "uni2", "virchow2", "h_optimus_0", "h_optimus_1", "histoencoder_prostate_medium"]
)
def test_foundation_model_shapes_on_meta_device(name):
    """Architectures of the large pathology encoders, built without allocating their weights."""
    spec = spec_for(name)
    with torch.device("meta"):
        model = spec.build(False)
        out = model(torch.empty(2, 3, spec.input_size, spec.input_size))
    assert out.shape == (2, spec.dim)


@pytest.mark.parametrize("name,dim", [("torchvision:mobilenet_v3_small", 576), ("timm:resnet10t", 512)])
def test_any_torchvision_or_timm_model(name, dim):
    model, spec, _ = build_encoder(name, "random")
    assert output_dim(model, spec) == dim


def test_unknown_encoder_lists_choices():
    with pytest.raises(EncoderError, match="unknown encoder 'nope'.*resnet50_trunc"):
        spec_for("nope")


def test_hub_weights_offline_give_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(EncoderError, match="could not load hub weights.*local path"):
        build_encoder("uni", "hub")

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(EncoderError, match="resnet50_trunc.*IMAGENET1K_V1.*never replaced by random"):
        build_encoder("resnet50_trunc", "hub")


def test_local_checkpoint_round_trip_and_mismatch(tmp_path):
    model, _, _ = build_encoder("resnet18", "random", seed=3)
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "ckpt.pth")
    loaded, _, source = build_encoder("resnet18", str(tmp_path / "ckpt.pth"))
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert source.startswith("checkpoint:")
    with pytest.raises(EncoderError, match="lacks .* weights"):
        build_encoder("resnet50_trunc", str(tmp_path / "ckpt.pth"))
    with pytest.raises(EncoderError, match="checkpoint not found"):
        build_encoder("resnet18", str(tmp_path / "missing.pth"))


def test_features_follow_coords_order(demo_tiles, tmp_path):
    slide_path, tiles = demo_tiles
    extract_features(slide_path, tiles, tmp_path / "f.h5", SMALL, "s")
    features, coords, attrs = read_features(tmp_path / "f.h5")
    assert np.array_equal(coords, TileFile.read(tiles).coords)
    assert features.shape == (len(coords), 512) and attrs["encoder"] == "resnet18"
    assert "random" in attrs["weights"] and attrs["reader"] == "raw_jpeg"
    model, spec, _ = build_encoder("resnet18", "random")
    with Slide(slide_path) as slide:
        geometry = read_geometry(slide, 256, 256)
    dataset = TileDataset(slide_path, coords, geometry, "openslide")
    for i in (0, len(coords) // 2, len(coords) - 1):
        with torch.no_grad():
            expected = model(preprocess(dataset[i][None], spec))[0].numpy()
        np.testing.assert_allclose(features[i], expected, rtol=1e-4, atol=1e-4)


def test_deterministic_and_workers_agree(demo_tiles, tmp_path):
    slide_path, tiles = demo_tiles
    extract_features(slide_path, tiles, tmp_path / "a.h5", SMALL, "s")
    extract_features(slide_path, tiles, tmp_path / "b.h5", replace(SMALL, num_workers=2, batch_size=5), "s")
    a, b = read_features(tmp_path / "a.h5")[0], read_features(tmp_path / "b.h5")[0]
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_raw_jpeg_and_openslide_paths_agree(real_slides, tmp_path):
    """The raw-tile path (nvJPEG on GPU, libjpeg-turbo here) gives the features OpenSlide gives."""
    tiles = make_tiles(real_slides["cmu"], tmp_path, "cmu")
    extract_features(real_slides["cmu"], tiles, tmp_path / "raw.h5", replace(SMALL, reader="raw_jpeg"), "cmu")
    extract_features(real_slides["cmu"], tiles, tmp_path / "os.h5", replace(SMALL, reader="openslide"), "cmu")
    raw, _, raw_attrs = read_features(tmp_path / "raw.h5")
    ref, _, ref_attrs = read_features(tmp_path / "os.h5")
    assert raw_attrs["reader"] == "raw_jpeg" and ref_attrs["reader"] == "openslide" and len(raw) > 5
    assert np.abs(raw - ref).max() <= 1e-3 * np.abs(ref).max()


def test_jpeg2000_slide_falls_back_to_openslide(real_slides, tmp_path):
    tiles = make_tiles(real_slides["tcga"], tmp_path, "tcga", sheet_mpp=0.25)
    summary = extract_features(real_slides["tcga"], tiles, tmp_path / "f.h5", SMALL, "tcga")
    assert summary["reader"] == "openslide" and summary["tiles"] > 0
    with pytest.raises(ConfigError, match="features.reader.*raw_jpeg"):
        extract_features(real_slides["tcga"], tiles, tmp_path / "g.h5", replace(SMALL, reader="raw_jpeg"), "tcga")


def test_interrupted_job_leaves_nothing_and_rerun_completes(demo_tiles, tmp_path):
    slide_path, tiles = demo_tiles
    out = tmp_path / "f.h5"
    with pytest.raises(KeyboardInterrupt):
        extract_features(slide_path, tiles, out, SMALL, "s", stop_after_batches=1)
    assert list(tmp_path.iterdir()) == []
    extract_features(slide_path, tiles, out, SMALL, "s")
    extract_features(slide_path, tiles, tmp_path / "clean.h5", SMALL, "s")
    np.testing.assert_array_equal(read_features(out)[0], read_features(tmp_path / "clean.h5")[0])


def test_slide_without_tiles_gives_empty_features(tmp_path):
    slide = write_small_slide(tmp_path, label="normal", slide_id="empty", width=2048, height=2048)
    tiles = make_tiles(slide["slide"], tmp_path, "empty", mask=mask_params(threshold_floor=255))
    extract_features(slide["slide"], tiles, tmp_path / "f.h5", SMALL, "empty")
    features, coords, _ = read_features(tmp_path / "f.h5")
    assert features.shape == (0, 512) and coords.shape == (0, 2)


def test_registry_entries_have_sources():
    for spec in REGISTRY.values():
        assert spec.hub and spec.input_size > 0


def test_device_decode_path_matches_worker_decode(demo_tiles):
    """The CUDA path's batching (streams collated, one decode call, stitching) run on the CPU."""
    from slidesnake.io.jpeg_tiles import level_layouts
    from slidesnake.io.tile_reader import decode_batch_on_device

    slide_path, tiles = demo_tiles
    coords = TileFile.read(tiles).coords[:6]
    with Slide(slide_path) as slide:
        geometry = read_geometry(slide, 256, 256)
        layout = level_layouts(slide_path, slide.level_dimensions)[geometry.level]
    streams = TileDataset(slide_path, coords, geometry, "raw_jpeg", decode="device")
    decoded = TileDataset(slide_path, coords, geometry, "raw_jpeg", decode="worker")
    batch = decode_batch_on_device([streams[i] for i in range(len(coords))], layout, torch.device("cpu"))
    assert torch.equal(batch, torch.stack([decoded[i] for i in range(len(coords))]))


def test_a_shard_with_a_broken_slide_writes_the_others_and_names_it(demo_tiles, tmp_path):
    """One job, the encoder loaded once: the good slides' files are written; the broken one is recorded with
    its error; collecting it fails naming the slide under qc.strict, and otherwise gives an empty features file
    marked excluded with reason "features ...: <error>", while the others are put in place."""
    from slidesnake.core.errors import SlideError
    from slidesnake.io.exclusion import h5_exclusion
    from slidesnake.io.feature_file import feature_shape
    from slidesnake.io.shard_table import read_shard_table
    from slidesnake.jobs import collect_features
    from slidesnake.jobs import extract_features as extract_job

    slide_path, tiles = demo_tiles
    broken = tmp_path / "broken.tiff"
    broken.write_bytes(slide_path.read_bytes()[:20_000])
    slides = {
        name: {"slide": str(path), "tiles": str(tiles), "features": str(tmp_path / "shard" / f"{name}.h5")}
        for name, path in (("a", slide_path), ("broken", broken), ("b", slide_path))
    }
    rows = extract_job.run(slides, SMALL, tmp_path / "shard.tsv", threads=1)
    assert [r["status"] for r in rows] == ["ok", "failed", "ok"]
    table = read_shard_table(tmp_path / "shard.tsv")
    assert (
        table["broken"]["error"]
        and table["a"]["status"] == "ok"
        and int(table["a"]["tiles"]) == len(TileFile.read(tiles))
    )
    for name in ("a", "b"):
        collect_features.run(tmp_path / "shard.tsv", name, tmp_path / f"{name}.h5", strict=False)
        np.testing.assert_array_equal(
            read_features(tmp_path / f"{name}.h5")[0], read_features(tmp_path / "shard" / f"{name}.h5")[0]
        )
    with pytest.raises(SlideError, match="slide 'broken': feature extraction failed"):
        collect_features.run(tmp_path / "shard.tsv", "broken", tmp_path / "broken.h5", strict=True)
    assert not (tmp_path / "broken.h5").exists()
    collect_features.run(tmp_path / "shard.tsv", "broken", tmp_path / "broken.h5", strict=False)
    exclusion = h5_exclusion(tmp_path / "broken.h5")
    assert exclusion.stage == "extract_features" and exclusion.reason.startswith(f"features {SMALL.model}: ")
    assert exclusion.source == str(broken) and feature_shape(tmp_path / "broken.h5")[0] == 0


def test_histoencoder_normalises_with_each_slides_statistics(demo_tiles, tmp_path):
    """HistoEncoder's published practice: every slide's channel mean and std, from a sample of its tiles."""
    slide_path, tiles = demo_tiles
    params = replace(SMALL, model="histoencoder_prostate_small")
    extract_features(slide_path, tiles, tmp_path / "f.h5", params, "s")
    features, _, attrs = read_features(tmp_path / "f.h5")
    assert features.shape[1] == 384 and np.isfinite(features).all()
    mean, std = np.array(attrs["norm_mean"]), np.array(attrs["norm_std"])
    assert 0.3 < mean.min() < mean.max() < 0.95 and (std > 0.01).all()
    assert not np.allclose(mean, [0.485, 0.456, 0.406])
    with pytest.raises(ValueError, match="own statistics"):
        preprocess(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), spec_for("histoencoder_prostate_small"))


def test_precision_follows_device_and_request():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert initial_precision(FP32, cuda) == FP32 and initial_precision(BF16, cuda) == BF16
    assert initial_precision(BF16, cpu, native_bf16=lambda: False) == FP32  # emulated bf16 is slower
    assert initial_precision(BF16, cpu, native_bf16=lambda: True) is None  # decided on the first batch


def test_native_bf16_comes_from_the_cpu_flags_not_from_onednn():
    """oneDNN calls bf16 supported on any AVX-512 CPU, where it is emulated and slower than fp32: the flags decide."""
    from slidesnake.features.extract import NATIVE_BF16_FLAGS, cpu_flags, cpu_has_native_bf16

    assert not cpu_has_native_bf16({"avx512f", "avx512bw", "avx512_vnni"})  # AVX-512 without BF16: emulated
    assert cpu_has_native_bf16({"avx512f", "avx512_bf16"}) and cpu_has_native_bf16({"amx_bf16"})
    assert cpu_has_native_bf16({"fp", "asimd", "bf16"})  # ARM's Features line
    flags = cpu_flags()
    assert flags is None or cpu_has_native_bf16() == bool(flags & set(NATIVE_BF16_FLAGS))


class FlipsUnderAutocast(torch.nn.Module):
    """A model whose bf16 output is wrong (points the other way), as a broken bf16 kernel would be."""

    def forward(self, x):
        out = x.flatten(1)[:, :16].float()
        return -out if torch.is_autocast_enabled("cpu") else out


def loaded(model, precision=None):
    spec = spec_for("resnet18")
    return LoadedEncoder(SMALL, model, spec, "test", 16, torch.device("cpu"), None, precision)


def test_cpu_bf16_kept_when_its_features_agree_with_fp32():
    torch.manual_seed(0)
    encoder = loaded(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 16)))
    x = torch.randn(4, 3, 8, 8)
    first = encoder.encode(x)
    assert encoder.precision == BF16
    expected = encoder.model(x)
    cosine = torch.nn.functional.cosine_similarity(first.float(), expected, dim=1)
    assert cosine.min() > 0.99 and encoder.encode(x).dtype == torch.bfloat16


def test_cpu_bf16_rejected_with_one_warning_when_it_disagrees(caplog):
    encoder = loaded(FlipsUnderAutocast())
    x = torch.rand(4, 3, 8, 8)
    with caplog.at_level("WARNING"):
        first = encoder.encode(x)
        second = encoder.encode(x)
    assert encoder.precision == FP32
    assert torch.equal(first, x.flatten(1)[:, :16]) and torch.equal(second, first)
    assert sum("disagree with fp32" in r.message for r in caplog.records) == 1


def test_features_file_records_the_precision_used(demo_tiles, tmp_path):
    slide_path, tiles = demo_tiles
    encoder = load_encoder(replace(SMALL, precision=BF16), native_bf16=lambda: True)
    encode_slide(encoder, slide_path, tiles, tmp_path / "bf16.h5", "s")
    bf16, _, attrs = read_features(tmp_path / "bf16.h5")
    extract_features(slide_path, tiles, tmp_path / "fp32.h5", SMALL, "s")
    fp32, _, fp32_attrs = read_features(tmp_path / "fp32.h5")
    assert attrs["precision"] == encoder.precision and fp32_attrs["precision"] == FP32
    cosine = (bf16 * fp32).sum(1) / np.linalg.norm(bf16, axis=1) / np.linalg.norm(fp32, axis=1)
    assert cosine.min() > 0.99


def test_a_shard_records_slide_errors_only(tmp_path):
    """A slide's own fault (a named error, OSError) is recorded and the shard goes on; a bug ends the job."""
    from slidesnake.core.errors import SlideReadError
    from slidesnake.io.shard_table import read_shard_table, run_shard

    def process(slide_id, files):
        if slide_id == "corrupt":
            raise SlideReadError("corrupt.tiff: the tile at (0, 0) cannot be read")
        if slide_id == "bug":
            raise ValueError("a programming error")
        return 3, 0.1

    tiles = tmp_path / "tiles.h5"
    h5py.File(tiles, "w").close()  # no exclusion recorded
    slides = {s: {"slide": f"{s}.tiff", "tiles": tiles, "out": str(tmp_path / f"{s}.h5")} for s in ("a", "corrupt")}
    rows = run_shard(slides, process, "out", tmp_path / "shard.tsv", "test", "tiles", "stage")
    assert [r["status"] for r in rows] == ["ok", "failed"]
    assert read_shard_table(tmp_path / "shard.tsv")["corrupt"]["error"].startswith("SlideReadError: corrupt.tiff")
    with pytest.raises(ValueError, match="a programming error"):
        bug = {"slide": "bug.tiff", "tiles": tiles, "out": ""}
        run_shard({**slides, "bug": bug}, process, "out", tmp_path / "shard2.tsv", "test", "tiles", "stage")


def test_a_shard_skips_slides_whose_tiles_are_excluded(tmp_path):
    """An excluded tiles file is not processed: the shard records the slide excluded with the tiles' record, and
    its collect job writes a valid empty file carrying the same exclusion (strict or not)."""
    from slidesnake.io.exclusion import EXCLUDED, Exclusion, h5_exclusion
    from slidesnake.io.feature_file import EMPTY, feature_shape
    from slidesnake.io.shard_table import link_from_shard, read_shard_table, run_shard

    exclusion = Exclusion("tissue_mask", "no tissue found", "/data/x.svs")
    excluded_tiles, ok_tiles = tmp_path / "excluded.h5", tmp_path / "ok.h5"
    with h5py.File(excluded_tiles, "w") as h5:
        h5.attrs.update(exclusion.attrs())
    h5py.File(ok_tiles, "w").close()
    processed = []

    def process(slide_id, files):
        processed.append(slide_id)
        Path(files["out"]).write_text("features")
        return 5, 0.1

    slides = {
        s: {"slide": f"{s}.tiff", "tiles": tiles, "out": str(tmp_path / f"{s}_shard.h5")}
        for s, tiles in (("x", excluded_tiles), ("a", ok_tiles))
    }
    rows = run_shard(slides, process, "out", tmp_path / "shard.tsv", "features", "tiles", "extract_features")
    assert processed == ["a"] and [r["status"] for r in rows] == [EXCLUDED, "ok"]
    assert read_shard_table(tmp_path / "shard.tsv")["x"]["reason"] == "no tissue found"
    for strict in (True, False):
        out = tmp_path / f"x_{strict}.h5"
        assert link_from_shard(tmp_path / "shard.tsv", "x", out, "features", "extract_features", EMPTY, strict)
        assert h5_exclusion(out) == exclusion and feature_shape(out) == (0, 0)

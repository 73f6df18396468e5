"""The fail-safe GPU paths, tested without a GPU: the decoder check and fallback, and the GPU pool."""

import multiprocessing
import os
import time

import numpy as np
import pytest
import torch

from helpers import make_tiles
from slidesnake.core.gpu_pool import claim_gpu
from slidesnake.io.jpeg_tiles import decode_many
from slidesnake.io.slide import Slide
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_reader import check_device_decoder, tile_stream


@pytest.fixture(scope="module")
def raw_tiles(tumor_slide, tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpu_tiles")
    return tumor_slide["slide"], TileFile.read(make_tiles(tumor_slide["slide"], folder))


def streams_of(slide_path, tiles, decoder, n=6):
    with Slide(slide_path, require_mpp=False) as slide:
        stream = tile_stream(
            slide_path,
            slide,
            tiles.coords[:n],
            tiles.size0,
            tiles.tile_px,
            "raw_jpeg",
            torch.device("cpu"),
            n,
            0,
            decode_on_device=True,
            device_decoder=decoder,
        )
    return stream, torch.cat(list(stream))


def shifted(streams, device):
    return [(t.int() + 40).clamp(0, 255).to(torch.uint8) for t in decode_many(streams, torch.device("cpu"))]


def failing(streams, device):
    raise RuntimeError("nvJPEG: unsupported JPEG (simulated)")


def test_device_decoder_check():
    from slidesnake.io.pyramid_tiff import encode_jpeg_tile

    rgb = (np.random.default_rng(0).random((256, 256, 3)) * 255).astype(np.uint8)
    streams = [torch.frombuffer(bytearray(encode_jpeg_tile(rgb, 256, 90)), dtype=torch.uint8)]
    assert check_device_decoder(streams, torch.device("cpu"), decode_many) is None
    assert "grey levels on average" in check_device_decoder(streams, torch.device("cpu"), shifted)
    assert "failed: RuntimeError" in check_device_decoder(streams, torch.device("cpu"), failing)


@pytest.mark.parametrize("decoder", [shifted, failing])
def test_a_rejected_device_decoder_falls_back_to_the_cpu(raw_tiles, decoder, caplog):
    """One warning, CPU decoding for the whole slide, the same pixels the CPU path gives, and the decoder
    used is recorded."""
    slide_path, tiles = raw_tiles
    reference_stream, reference = streams_of(slide_path, tiles, decode_many)
    assert reference_stream.decoder.startswith("nvJPEG")
    stream, pixels = streams_of(slide_path, tiles, decoder)
    assert torch.equal(pixels, reference)
    assert stream.decoder.startswith("libjpeg-turbo on the CPU (device decoder rejected")
    assert sum("decoding JPEG tiles on the CPU" in r.message for r in caplog.records) == 1


def hold_gpu(lock_dir, results, hold):
    environ = {}
    with claim_gpu(count=lambda: 4, lock_dir=lock_dir, environ=environ) as index:
        results.put((os.getpid(), index, environ["CUDA_VISIBLE_DEVICES"]))
        time.sleep(hold)


@pytest.mark.slow
def test_concurrent_jobs_get_different_gpus_and_crashes_release_theirs(tmp_path):
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    jobs = [context.Process(target=hold_gpu, args=(tmp_path, results, 600.0)) for _ in range(4)]
    for job in jobs:
        job.start()
    claimed = {pid: (index, visible) for pid, index, visible in (results.get(timeout=180) for _ in jobs)}
    assert sorted(index for index, _ in claimed.values()) == [0, 1, 2, 3]
    assert all(str(index) == visible for index, visible in claimed.values())
    jobs[0].kill()  # a crashed job's GPU is free again, and only that one
    jobs[0].join()
    late_results = context.Queue()  # a fresh queue: a process killed while it held the first one's lock
    late = context.Process(target=hold_gpu, args=(tmp_path, late_results, 0.1))
    late.start()  # would block every later writer of that queue
    assert late_results.get(timeout=180)[1] == claimed[jobs[0].pid][0]
    late.join()
    for job in jobs[1:]:
        job.kill()
        job.join()


def test_schedulers_and_users_keep_their_gpu_choice(tmp_path):
    for environ in ({"SLURM_JOB_ID": "1"}, {"CUDA_VISIBLE_DEVICES": "3"}):
        before = dict(environ)
        with claim_gpu(count=lambda: 4, lock_dir=tmp_path, environ=environ) as index:
            assert index is None and environ == before
    environ = {}
    with claim_gpu(count=lambda: 0, lock_dir=tmp_path, environ=environ) as index:
        assert index is None and environ == {}

"""Feature extraction of one slide: tiles from the fast reader, resized and normalised on the device,
encoded in batches (bf16 autocast on CUDA and on CPUs with native bf16, channels_last on CUDA), written in
the tiles file's order."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from slidesnake.core.logs import progress
from slidesnake.core.provenance import provenance_attrs
from slidesnake.features.encoders import SLIDE_NORM, EncoderSpec, build_encoder, output_dim
from slidesnake.features.params import BF16, FP32, FeatureParams
from slidesnake.io.feature_file import WEIGHTS, FeatureAttrs, write_feature_file
from slidesnake.io.slide import Slide
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_reader import resolve_device, tile_stream
from slidesnake.stain.methods import FIT_PER_SLIDE, NONE
from slidesnake.stain.normalise import StainNormaliser, StainReference
from slidesnake.stain.sample import resize_tiles

log = logging.getLogger(__name__)


def preprocess(
    tiles: torch.Tensor, spec: EncoderSpec, norm: tuple | None = None, normalise_stain: StainNormaliser | None = None
) -> torch.Tensor:
    """uint8 N x 3 x r x r -> the encoder's input: resized (antialiased) to its input size, stain-normalised
    there when asked (fewer pixels, same colours), scaled by mean and std. `norm` (mean, std) replaces the
    encoder's own, for encoders that normalise with each slide's statistics."""
    norm = norm or spec.norm
    if norm == SLIDE_NORM:
        raise ValueError(f"encoder '{spec.name}' normalises with each slide's own statistics; pass them as norm")
    x = resize_tiles(tiles, spec.input_size)
    if normalise_stain is not None:
        x = normalise_stain(x)
    x = x / 255  # never in place: float input may be the caller's tensor
    mean = torch.tensor(norm[0], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(norm[1], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std


SLIDE_NORM_TILES = 256  # tiles sampled evenly over a slide for its channel mean and std, and its stain fit


def slide_statistics(stream_of_sample, prepare=None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Channel mean and std (0-1 scale) of the tiles a stream yields (HistoEncoder's normalisation), after
    `prepare` (the encoder's resize and stain normalisation) when given."""
    total, total_sq, n = torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), 0
    for batch in stream_of_sample:
        x = (prepare(batch) if prepare else batch).double().div(255)
        total += x.sum((0, 2, 3)).cpu()
        total_sq += (x**2).sum((0, 2, 3)).cpu()
        n += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / max(n, 1)
    std = (total_sq / max(n, 1) - mean**2).clamp_min(1e-8).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())


BF16_MIN_COSINE = 0.99  # bf16 features must point where fp32 features point, tile by tile


NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # CPU flags of native bf16 (Linux names: x86 two, ARM one)


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags from /proc/cpuinfo; None where there is no such file (not Linux)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith(("flags", "Features")):  # x86 names the line flags, ARM Features
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return set()


def cpu_has_native_bf16(flags: set[str] | None = None) -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 / AMX on x86, the bf16 extension on ARM); emulated
    bf16 is slower than fp32 (half the speed of fp32 for ResNet-18 on a Xeon with AVX-512 but no AVX512-BF16).
    oneDNN's own check (`_is_mkldnn_bf16_supported`) says yes on every AVX-512 CPU, so the CPU's flags decide
    where they can be read; elsewhere oneDNN's check does."""
    flags = cpu_flags() if flags is None else flags
    if flags is not None:
        return bool(flags & set(NATIVE_BF16_FLAGS))
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def initial_precision(requested: str, device: torch.device, native_bf16=cpu_has_native_bf16) -> str | None:
    """The encoder's precision: fp32 when asked for or when bf16 would be emulated, bf16 on CUDA, and None (to
    be decided on the first batch against fp32) on a CPU with native bf16."""
    if requested == FP32:
        return FP32
    if device.type == "cuda":
        return BF16
    return None if native_bf16() else FP32


@dataclass
class LoadedEncoder:
    """An encoder built once and moved to its device, to encode one slide after another."""

    params: FeatureParams
    model: torch.nn.Module
    spec: EncoderSpec
    source: str
    dim: int
    device: torch.device
    normalise_stain: StainNormaliser | None = None
    precision: str | None = FP32

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The model's output on one batch, in the job's precision; the first batch on a CPU with native bf16
        runs both ways and keeps bf16 only if its features agree with fp32 (else one warning, fp32)."""
        if self.precision is None:
            return self.choose_precision(x)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == BF16):
            return self.model(x)

    def choose_precision(self, x: torch.Tensor) -> torch.Tensor:
        fp32 = self.model(x).float()
        with torch.autocast(self.device.type, dtype=torch.bfloat16):
            bf16 = self.model(x).float()
        cosine = float(
            torch.nn.functional.cosine_similarity(fp32.detach(), bf16.detach(), dim=1).nan_to_num(-1.0).min()
        )
        if cosine >= BF16_MIN_COSINE:
            self.precision = BF16
            log.info("bf16 autocast on this CPU: features agree with fp32 on the first batch (cosine >= %.4f)", cosine)
            return bf16
        self.precision = FP32
        log.warning(
            "bf16 features disagree with fp32 on the first batch (min cosine %.4f < %.2f); this job encodes in fp32",
            cosine,
            BF16_MIN_COSINE,
        )
        return fp32


def encoder_threads(job_threads: int, num_workers: int, device: torch.device) -> int:
    """torch threads of a feature job: on the GPU the DataLoader workers need the cores, on the CPU the
    encoder is the bottleneck and the workers mostly wait on it, so it gets every thread of the job."""
    return max(1, job_threads - num_workers) if device.type == "cuda" else max(1, job_threads)


def load_normaliser(params: FeatureParams, stain_reference: Path | None) -> StainNormaliser | None:
    """The stain normaliser of an encoder whose params ask for one, from its reference file."""
    if params.stain == NONE:
        return None
    if stain_reference is None:
        raise ValueError(f"encoder '{params.model}' normalises stain ({params.stain}) but no reference was given")
    reference = StainReference.read(stain_reference)
    if reference.method != params.stain:
        raise ValueError(f"stain reference {stain_reference} is for {reference.method}, not {params.stain}")
    return StainNormaliser(reference)


def load_encoder(
    params: FeatureParams, job_threads: int = 1, stain_reference: Path | None = None, native_bf16=cpu_has_native_bf16
) -> LoadedEncoder:
    """Build the encoder (and its stain normaliser) once, on its device; `native_bf16` replaces the CPU's
    bf16 check (tests)."""
    normaliser = load_normaliser(params, stain_reference)
    device = resolve_device(params.device)
    torch.set_num_threads(encoder_threads(job_threads, params.num_workers, device))
    model, spec, source = build_encoder(params.model, params.weights, params.seed)
    dim = output_dim(model, spec)
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return LoadedEncoder(
        params, model, spec, source, dim, device, normaliser, initial_precision(params.precision, device, native_bf16)
    )


def encode_slide(
    encoder: LoadedEncoder,
    slide_path: Path,
    tiles_h5: Path,
    out_h5: Path,
    slide_id: str,
    stop_after_batches: int | None = None,
    device_decoder=None,
) -> dict:
    """Features for every tile of `tiles_h5`, in its order, written atomically to `out_h5`.
    `stop_after_batches` simulates a killed job; `device_decoder` replaces nvJPEG (tests)."""
    params = encoder.params
    tiles = TileFile.read(tiles_h5)
    options = {} if device_decoder is None else {"decode_on_device": True, "device_decoder": device_decoder}
    with Slide(slide_path, slide_id, require_mpp=False) as slide:

        def stream_of(coords):
            return tile_stream(
                slide_path,
                slide,
                coords,
                tiles.size0,
                tiles.tile_px,
                params.reader,
                encoder.device,
                params.batch_size,
                params.num_workers,
                **options,
            )

        stream = stream_of(tiles.coords)
        normalise_stain, norm = encoder.normalise_stain, encoder.spec.norm
        fit_stain_to_slide = normalise_stain is not None and params.stain_fit == FIT_PER_SLIDE
        sample = []  # tiles spread evenly over the slide at the encoder's input size, read once for both fits
        if len(tiles) and (fit_stain_to_slide or norm == SLIDE_NORM):
            spread = tiles.coords[np.unique(np.linspace(0, len(tiles) - 1, SLIDE_NORM_TILES).astype(int))]
            sample = [resize_tiles(b, encoder.spec.input_size) for b in stream_of(spread)]
        if fit_stain_to_slide and sample:
            normalise_stain = normalise_stain.for_slide(torch.cat(sample), slide_id)
        if norm == SLIDE_NORM:
            norm = slide_statistics(sample, prepare=normalise_stain)
    features = np.empty((len(tiles), encoder.dim), np.float32)
    start, done = time.perf_counter(), 0
    with torch.inference_mode():
        for batch_index, batch in enumerate(progress(stream, f"{slide_id} {params.model}", "batch")):
            if stop_after_batches is not None and batch_index >= stop_after_batches:
                raise KeyboardInterrupt(f"stopped after {batch_index} batches")
            x = preprocess(batch, encoder.spec, norm, normalise_stain)
            if encoder.cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            out = encoder.encode(x)
            features[done : done + len(out)] = out.float().cpu().numpy()
            done += len(out)
    seconds = time.perf_counter() - start
    summary = {
        "slide": slide_id,
        "tiles": len(tiles),
        "dim": encoder.dim,
        "reader": stream.reader,
        "decoder": stream.decoder,
        "device": str(encoder.device),
        "precision": encoder.precision,
        "seconds": round(seconds, 3),
        "tiles_per_s": round(len(tiles) / seconds, 1) if seconds > 0 else None,
    }
    attrs = FeatureAttrs(
        encoder=params.model,
        weights={WEIGHTS: encoder.source},
        input_size=encoder.spec.input_size,
        norm=norm,
        reader=stream.reader,
        decoder=stream.decoder,
        read_level=stream.geometry.level,
        precision=encoder.precision or FP32,
        stain_normalisation=params.stain,
        stain_reference=normalise_stain.reference.describe() if normalise_stain else "",
        provenance=provenance_attrs(asdict(params)),
    )
    write_feature_file(out_h5, features, tiles, attrs)
    log.info("%s", summary)
    return summary


def extract_features(
    slide_path: Path,
    tiles_h5: Path,
    out_h5: Path,
    params: FeatureParams,
    slide_id: str,
    threads: int = 1,
    stop_after_batches: int | None = None,
    stain_reference: Path | None = None,
) -> dict:
    """Load the encoder and encode one slide (a job of one slide; shards reuse one loaded encoder)."""
    return encode_slide(
        load_encoder(params, threads, stain_reference), slide_path, tiles_h5, out_h5, slide_id, stop_after_batches
    )

"""Region features of one slide: every 256 px patch of every region through ViT-256 (batched, read the fast
way the tile features are read), then each region's 16 x 16 grid of patch [CLS] tokens through ViT-4K.
Memory is bounded by a batch of regions."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from slidesnake.core.logs import progress
from slidesnake.core.provenance import provenance_attrs
from slidesnake.features.extract import preprocess
from slidesnake.features.hipt import VIT4K_DIM, VIT256_DIM, build_vit4k, build_vit256
from slidesnake.features.params import BF16, FP32, RegionFeatureParams
from slidesnake.io.feature_file import VIT4K_WEIGHTS, VIT256_WEIGHTS, FeatureAttrs, write_feature_file
from slidesnake.io.region_file import PatchLayout
from slidesnake.io.slide import Slide
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_reader import resolve_device, tile_stream
from slidesnake.stain.methods import NONE as NO_STAIN
from slidesnake.tissue.regions import patch_offsets

log = logging.getLogger(__name__)
PATCH_TOKENS = "patch_tokens"


@dataclass
class RegionEncoder:
    params: RegionFeatureParams
    vit256: torch.nn.Module
    vit4k: torch.nn.Module
    spec: object
    sources: dict
    device: torch.device


def load_region_encoder(params: RegionFeatureParams, threads: int = 1) -> RegionEncoder:
    device = resolve_device(params.device)
    torch.set_num_threads(max(1, threads))
    vit256, spec, source256 = build_vit256(params.vit256_weights, params.seed)
    vit4k, source4k = build_vit4k(params.vit4k_weights, params.seed)
    return RegionEncoder(
        params, vit256.to(device), vit4k.to(device), spec, {VIT256_WEIGHTS: source256, VIT4K_WEIGHTS: source4k}, device
    )


def encode_regions(encoder: RegionEncoder, slide_path: Path, regions_h5: Path, out_h5: Path, slide_id: str) -> dict:
    """One 192-d embedding per region, in the regions file's order (and, with keep_patch_tokens, the 256
    patch tokens of each region)."""
    params = encoder.params
    regions = TileFile.read(regions_h5)
    layout = PatchLayout.of(regions)
    k, patch_size0, patch_px = layout.patches_per_side, layout.patch_px_level0, layout.patch_px
    offsets = patch_offsets(k, patch_size0)
    coords = (regions.coords[:, None, :] + offsets[None]).reshape(-1, 2) if len(regions) else np.zeros((0, 2), np.int64)
    cuda = encoder.device.type == "cuda"
    bf16 = cuda and params.precision == BF16
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16)
    with Slide(slide_path, slide_id, require_mpp=False) as slide:
        stream = tile_stream(
            slide_path,
            slide,
            coords,
            patch_size0,
            patch_px,
            params.reader,
            encoder.device,
            params.regions_per_batch * k * k,
            params.num_workers,
        )
    features = np.empty((len(regions), VIT4K_DIM), np.float32)
    tokens = np.empty((len(regions), k * k, VIT256_DIM), np.float16) if params.keep_patch_tokens else None
    start, done = time.perf_counter(), 0
    with torch.inference_mode(), autocast:
        for batch in progress(stream, f"{slide_id} regions", "batch"):
            patch_tokens = encoder.vit256(preprocess(batch, encoder.spec)).float()  # R*k*k x 384
            grid = patch_tokens.view(-1, k, k, VIT256_DIM).permute(0, 3, 1, 2)  # R x 384 x k x k
            out = encoder.vit4k(grid).float()
            features[done : done + len(out)] = out.cpu().numpy()
            if tokens is not None:
                tokens[done : done + len(out)] = patch_tokens.view(len(out), k * k, -1).cpu().numpy()
            done += len(out)
    seconds = time.perf_counter() - start
    attrs = FeatureAttrs(
        encoder="hipt (ViT-256 then ViT-4K)",
        weights=encoder.sources,
        input_size=encoder.spec.input_size,
        norm=encoder.spec.norm,
        reader=stream.reader,
        decoder=stream.decoder,
        read_level=stream.geometry.level,
        precision=BF16 if bf16 else FP32,
        stain_normalisation=NO_STAIN,
        stain_reference="",
        provenance=provenance_attrs(asdict(params)),
    )
    write_feature_file(out_h5, features, regions, attrs, {PATCH_TOKENS: tokens} if tokens is not None else None)
    summary = {
        "slide": slide_id,
        "regions": len(regions),
        "patches": len(coords),
        "seconds": round(seconds, 3),
        "regions_per_s": round(len(regions) / seconds, 2) if seconds > 0 else None,
        "patches_per_s": round(len(coords) / seconds, 1) if seconds > 0 else None,
    }
    log.info("%s", summary)
    return summary

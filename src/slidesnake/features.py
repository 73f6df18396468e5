"""Feature extraction: tiles read in spatial order by DataLoader workers, encoded in batches."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py
import numpy as np
import openslide
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from .atomic import atomic_output
from .encoders import EncoderSpec, build_encoder, output_dim
from .jpeg_tiles import assemble, decode_many, level_layouts, plan_region, read_tile_bytes
from .provenance import provenance_attrs
from .slide import Slide, composite_on_white

log = logging.getLogger(__name__)
READERS = ("auto", "openslide", "raw_jpeg")


@dataclass(frozen=True)
class FeatureParams:
    model: str = "resnet50_trunc"
    weights: str = "random"
    batch_size: int = 64
    num_workers: int = 2
    reader: str = "auto"          # auto: raw JPEG tiles where the file allows, else OpenSlide
    precision: str = "bf16"       # bf16 autocast on CUDA; CPU always computes in float32
    device: str = "auto"          # auto | cpu | cuda
    seed: int = 0


@dataclass(frozen=True)
class TileGeometry:
    """Where each tile is read: pyramid level and its size there (square)."""

    level: int
    level_downsample: float
    read_px: int


def tile_geometry(slide: Slide, size0: int, tile_px: int) -> TileGeometry:
    level = slide.level_for_downsample(size0 / tile_px)
    level_ds = slide.level_downsamples[level]
    return TileGeometry(level, level_ds, max(1, int(round(size0 / level_ds))))


class TileDataset(Dataset):
    """Tiles of one slide. Each worker opens its own slide handle on first use.

    With decode="worker" items are 3 x r x r uint8 tensors; with decode="device" (raw JPEG on CUDA)
    items are the tiles' JPEG streams and their region plan, decoded in batches on the GPU.
    """

    def __init__(self, slide_path: Path, coords: np.ndarray, geometry: TileGeometry, reader: str,
                 decode: str = "worker"):
        self.slide_path, self.coords, self.geometry = slide_path, coords, geometry
        self.reader, self.decode = reader, decode
        self._handle = self._file = self._layout = None

    def __len__(self) -> int:
        return len(self.coords)

    def _open(self):
        self._handle = openslide.OpenSlide(str(self.slide_path))
        if self.reader == "raw_jpeg":
            self._layout = level_layouts(self.slide_path, self._handle.level_dimensions)[self.geometry.level]
            self._file = open(self.slide_path, "rb")

    def __getitem__(self, index: int):
        if self._handle is None:
            self._open()
        x, y = (int(v) for v in self.coords[index])
        g = self.geometry
        if self.reader == "openslide":
            rgba = np.asarray(self._handle.read_region((x, y), g.level, (g.read_px, g.read_px)))
            return torch.from_numpy(composite_on_white(rgba)).permute(2, 0, 1).contiguous()
        plan = plan_region(self._layout, int(x // g.level_downsample), int(y // g.level_downsample),
                           g.read_px, g.read_px)
        streams = read_tile_bytes(self._file, plan, self._layout)
        if self.decode == "device":
            return streams, plan
        decoded = decode_many([s for s in streams if s is not None], torch.device("cpu"))
        it = iter(decoded)
        return assemble(plan, [None if s is None else next(it) for s in streams], self._layout.tile_w,
                        self._layout.tile_h, torch.device("cpu")).contiguous()


def keep_lists(batch):
    return batch


def decode_batch_on_device(batch, layout, device) -> torch.Tensor:
    """One nvJPEG call for every stored tile of the batch, then stitching on the device."""
    streams = [s for item_streams, _ in batch for s in item_streams if s is not None]
    decoded = iter(decode_many(streams, device))
    tiles = []
    for item_streams, plan in batch:
        tiles.append(assemble(plan, [None if s is None else next(decoded) for s in item_streams],
                              layout.tile_w, layout.tile_h, device))
    return torch.stack(tiles)


def preprocess(tiles: torch.Tensor, spec: EncoderSpec) -> torch.Tensor:
    """uint8 N x 3 x r x r -> normalised float at the encoder's input size (antialiased resize)."""
    x = tiles.float().div_(255)
    if x.shape[-1] != spec.input_size:
        x = F.interpolate(x, size=(spec.input_size, spec.input_size), mode="bilinear", antialias=True,
                          align_corners=False)
    mean = torch.tensor(spec.norm[0], device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.norm[1], device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def choose_reader(requested: str, slide_path: Path, slide: Slide, geometry: TileGeometry):
    """("raw_jpeg", layout of the read level) where the file allows and it is wanted, else ("openslide", None)."""
    if requested not in READERS:
        raise ValueError(f"unknown reader '{requested}'; choose one of {READERS}")
    if requested == "openslide":
        return "openslide", None
    layouts = level_layouts(slide_path, slide.level_dimensions)
    if layouts is None:
        if requested == "raw_jpeg":
            raise ValueError(f"reader 'raw_jpeg' needs a JPEG-tiled TIFF/SVS pyramid; {slide_path.name} is not one")
        return "openslide", None
    return "raw_jpeg", layouts[geometry.level]


def resolve_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available")
    return torch.device(requested)


def extract_features(slide_path: Path, tiles_h5: Path, out_h5: Path, params: FeatureParams, slide_id: str,
                     sheet_mpp: float | None = None, default_mpp: float | None = None, threads: int = 1,
                     stop_after_batches: int | None = None) -> dict:
    """Features for every tile of `tiles_h5`, in its order. `stop_after_batches` simulates a killed job."""
    with h5py.File(tiles_h5, "r") as h5:
        coords = h5["coords"][:]
        tile_attrs = dict(h5["coords"].attrs)
    tile_px, size0 = int(tile_attrs["patch_size"]), int(tile_attrs["patch_size_level0"])
    device = resolve_device(params.device)
    torch.set_num_threads(max(1, threads))
    model, spec, source = build_encoder(params.model, params.weights, params.seed)
    dim = output_dim(model, spec)
    with Slide(slide_path, slide_id, mpp=sheet_mpp, default_mpp=default_mpp) as slide:
        geometry = tile_geometry(slide, size0, tile_px)
        reader, layout = choose_reader(params.reader, slide_path, slide, geometry)
    decode = "device" if reader == "raw_jpeg" and device.type == "cuda" else "worker"
    cuda = device.type == "cuda"
    model = model.to(device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda and params.precision == "bf16")
    dataset = TileDataset(slide_path, coords, geometry, reader, decode)
    loader = DataLoader(dataset, batch_size=params.batch_size, shuffle=False, num_workers=params.num_workers,
                        pin_memory=cuda and decode == "worker", collate_fn=keep_lists if decode == "device" else None,
                        prefetch_factor=4 if params.num_workers else None,
                        persistent_workers=False)
    features = np.empty((len(coords), dim), np.float32)
    start, done = time.perf_counter(), 0
    with torch.inference_mode(), autocast:
        for batch_index, batch in enumerate(tqdm(loader, desc=f"{slide_id} {params.model}", unit="batch",
                                                 disable=None, mininterval=2)):
            if stop_after_batches is not None and batch_index >= stop_after_batches:
                raise KeyboardInterrupt(f"stopped after {batch_index} batches")
            if decode == "device":
                tiles = decode_batch_on_device(batch, layout, device)
            else:
                tiles = batch.to(device, non_blocking=True)
            x = preprocess(tiles, spec)
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            out = model(x)
            features[done:done + len(out)] = out.float().cpu().numpy()
            done += len(out)
    seconds = time.perf_counter() - start
    summary = {"slide": slide_id, "tiles": len(coords), "dim": dim, "reader": reader, "decode": decode,
               "device": str(device), "seconds": round(seconds, 3),
               "tiles_per_s": round(len(coords) / seconds, 1) if seconds > 0 else None}
    attrs = {"encoder": params.model, "weights": source, "input_size": spec.input_size, "norm_mean": spec.norm[0],
             "norm_std": spec.norm[1], "tile_px": tile_px, "target_mpp": float(tile_attrs["target_mpp"]),
             "patch_size_level0": size0, "reader": reader, "read_level": geometry.level,
             **provenance_attrs(asdict(params))}
    with atomic_output(out_h5) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("features", data=features)
        coords_ds = h5.create_dataset("coords", data=coords.astype(np.int64).reshape(-1, 2))
        for key, value in tile_attrs.items():
            coords_ds.attrs[key] = value
        for key, value in attrs.items():
            h5.attrs[key] = value
    log.info("%s", summary)
    return summary

"""The fast tile reader shared by every stage that sees pixels: tiles of one slide in spatial order,
read by DataLoader workers from the pyramid level nearest the target resolution, as raw JPEG tiles
where the file allows (decoded by libjpeg-turbo in the workers, or collected and decoded in one nvJPEG
call per batch on CUDA), else through OpenSlide."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openslide
import torch
from torch.utils.data import DataLoader, Dataset

from slidesnake.core.errors import ConfigError, SlideReadError
from slidesnake.io.jpeg_tiles import assemble, decode_many, level_layouts, plan_region, read_tile_bytes
from slidesnake.io.slide import Slide, composite_on_white

log = logging.getLogger(__name__)
READERS = ("auto", "openslide", "raw_jpeg")


@dataclass(frozen=True)
class ReadGeometry:
    """Where each tile is read: pyramid level and the (square) tile size there."""

    level: int
    level_downsample: float
    read_px: int


def read_geometry(slide: Slide, size0: int, tile_px: int) -> ReadGeometry:
    """The deepest level whose downsample does not exceed the tile's (so tiles are never upsampled)."""
    level = slide.level_for_downsample(size0 / tile_px)
    level_ds = slide.level_downsamples[level]
    return ReadGeometry(level, level_ds, max(1, int(round(size0 / level_ds))))


class TileDataset(Dataset):
    """Tiles of one slide. Each worker opens its own slide handle on first use.

    With decode="worker" items are 3 x r x r uint8 tensors; with decode="device" (raw JPEG on CUDA)
    items are the tiles' JPEG streams and their region plan, decoded in batches on the GPU.
    """

    def __init__(
        self, slide_path: Path, coords: np.ndarray, geometry: ReadGeometry, reader: str, decode: str = "worker"
    ):
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
        try:
            return self._read(x, y)
        except (openslide.OpenSlideError, RuntimeError) as error:  # OpenSlide, or a JPEG tile that does not decode
            raise SlideReadError(f"{self.slide_path.name}: the tile at ({x}, {y}) cannot be read: {error}") from error

    def _read(self, x: int, y: int):
        g = self.geometry
        if self.reader == "openslide":
            rgba = np.asarray(self._handle.read_region((x, y), g.level, (g.read_px, g.read_px)))
            return torch.from_numpy(composite_on_white(rgba)).permute(2, 0, 1).contiguous()
        plan = plan_region(
            self._layout, int(x // g.level_downsample), int(y // g.level_downsample), g.read_px, g.read_px
        )
        streams = read_tile_bytes(self._file, plan, self._layout)
        if self.decode == "device":
            return streams, plan
        decoded = iter(decode_many([s for s in streams if s is not None], torch.device("cpu")))
        return assemble(
            plan,
            [None if s is None else next(decoded) for s in streams],
            self._layout.tile_w,
            self._layout.tile_h,
            torch.device("cpu"),
        ).contiguous()


def keep_lists(batch):
    return batch


def decode_batch_on_device(batch, layout, device, decoder=decode_many) -> torch.Tensor:
    """One nvJPEG call for every stored tile of the batch, then stitching on the device."""
    streams = [s for item_streams, _ in batch for s in item_streams if s is not None]
    decoded = iter(decoder(streams, device))
    tiles = []
    for item_streams, plan in batch:
        tiles.append(
            assemble(
                plan, [None if s is None else next(decoded) for s in item_streams], layout.tile_w, layout.tile_h, device
            )
        )
    return torch.stack(tiles)


def choose_reader(requested: str, slide_path: Path, slide: Slide, geometry: ReadGeometry):
    """("raw_jpeg", layout of the read level) where the file allows and it is wanted, else ("openslide", None)."""
    if requested not in READERS:
        raise ValueError(f"unknown reader '{requested}'; choose one of {READERS}")
    if requested == "openslide":
        return "openslide", None
    layouts = level_layouts(slide_path, slide.level_dimensions)
    if layouts is None:
        if requested == "raw_jpeg":
            raise ConfigError(
                "features.reader",
                f"'raw_jpeg' needs a JPEG-tiled TIFF/SVS pyramid; {slide_path.name} is not "
                "one (auto falls back to OpenSlide)",
            )
        return "openslide", None
    return "raw_jpeg", layouts[geometry.level]


def resolve_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("features.device", "'cuda' requested but CUDA is not available (auto uses the CPU)")
    return torch.device(requested)


DECODE_CHECK_TILES = 4  # stored tiles decoded both ways on the first batch
DECODE_TOLERANCE = 4.0  # mean absolute grey-level difference allowed between GPU and CPU decodes


def check_device_decoder(streams: list[torch.Tensor], device: torch.device, device_decoder=decode_many) -> str | None:
    """None when the device decodes a few stored tiles like libjpeg-turbo on the CPU does (within JPEG
    decoder tolerance: IDCT and upsampling differ a little), else the reason not to use it."""
    sample = [s for s in streams if s is not None][:DECODE_CHECK_TILES]
    if not sample:
        return None
    try:
        on_device = [t.cpu() for t in device_decoder(sample, device)]
    except Exception as error:  # nvJPEG failing on a file must not fail the job: there is a CPU path
        return f"the device decoder failed: {type(error).__name__}: {error}"
    for gpu, cpu in zip(on_device, decode_many(sample, torch.device("cpu")), strict=False):
        if gpu.shape != cpu.shape:
            return f"the device decoder returned {tuple(gpu.shape)} instead of {tuple(cpu.shape)}"
        error = (gpu.float() - cpu.float()).abs().mean().item()
        if error > DECODE_TOLERANCE:
            return f"device and CPU decodes differ by {error:.1f} grey levels on average"
    return None


@dataclass
class TileStream:
    """Batches of uint8 N x 3 x r x r tiles of one slide on `device`, in coords order.

    With device decoding (raw JPEG on CUDA) the first batch checks the device decoder against the CPU one;
    when it fails or disagrees, the stream logs one warning and decodes on the CPU for the rest of the slide.
    `decoder` says which decoder was used (recorded in the features file)."""

    loader: DataLoader
    decode: str
    layout: object
    device: torch.device
    reader: str
    geometry: ReadGeometry
    device_decoder: object = decode_many
    decoder: str = ""

    def __iter__(self):
        checked = False
        for batch in self.loader:
            if self.decode != "device":
                yield batch.to(self.device, non_blocking=True)
                continue
            if not checked:
                checked = True
                reason = check_device_decoder([s for item, _ in batch for s in item], self.device, self.device_decoder)
                if reason:
                    log.warning("%s; decoding JPEG tiles on the CPU for this slide", reason)
                    self.decoder = f"libjpeg-turbo on the CPU (device decoder rejected: {reason})"
                    self.decode = "device-fallback"
            if self.decode == "device-fallback":
                yield decode_batch_on_device(batch, self.layout, torch.device("cpu")).to(self.device)
            else:
                yield decode_batch_on_device(batch, self.layout, self.device, self.device_decoder)

    def __len__(self) -> int:
        return len(self.loader)


def tile_stream(
    slide_path: Path,
    slide: Slide,
    coords: np.ndarray,
    size0: int,
    tile_px: int,
    reader: str,
    device: torch.device,
    batch_size: int,
    num_workers: int,
    decode_on_device: bool | None = None,
    device_decoder=decode_many,
) -> TileStream:
    """The batches of tiles a stage encodes: read the fast way the file allows, in spatial order. Raw JPEG
    tiles are decoded on the device when it is CUDA (`decode_on_device` overrides, for tests)."""
    geometry = read_geometry(slide, size0, tile_px)
    chosen, layout = choose_reader(reader, slide_path, slide, geometry)
    cuda = device.type == "cuda"
    on_device = cuda if decode_on_device is None else decode_on_device
    decode = "device" if chosen == "raw_jpeg" and on_device else "worker"
    dataset = TileDataset(slide_path, coords, geometry, chosen, decode)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=cuda and decode == "worker",
        collate_fn=keep_lists if decode == "device" else None,
        prefetch_factor=4 if num_workers else None,
        persistent_workers=False,
    )
    decoder = {
        "openslide": "OpenSlide",
        "worker": "libjpeg-turbo in the DataLoader workers",
        "device": f"nvJPEG on {device}",
    }["openslide" if chosen == "openslide" else decode]
    return TileStream(loader, decode, layout, device, chosen, geometry, device_decoder, decoder)

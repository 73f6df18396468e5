"""The mask-info contract, `results/masks/{slide}.json`: how a slide's tissue mask was made and what it found,
written by rule tissue_mask and read by the tiling, region and cohort-figure jobs. One JSON object whose keys
are the fields of MaskInfo, followed by the provenance keys (slidesnake_version, code_hash, params_json)."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from slidesnake.core.atomic import atomic_output


@dataclass(frozen=True)
class MaskInfo:
    slide_id: str
    vendor: str | None  # OpenSlide's vendor name of the slide file
    level0_width: int
    level0_height: int
    mpp: float  # microns per level-0 pixel ...
    mpp_source: str  # ... and where it came from (file, sample sheet, config default_mpp)
    level_downsamples: list[float]  # the slide's pyramid
    mask_downsample: list[float]  # level-0 pixels per mask pixel, x and y
    mask_mpp: float  # microns per mask pixel
    threshold: float  # the tissue threshold (0-255) on the mask channel
    tissue_fraction: float  # share of the mask that is tissue
    tissue_area_mm2: float
    pen_fraction: float  # share of the mask removed as pen marks
    scale_mpp: float | None  # level-0 um/px implied by the nuclei's size (tissue/scale.py); None: no estimate ...
    scale_note: str | None  # ... and why
    scale_ratio: float | None  # scale_mpp / mpp
    nucleus_px: float | None  # median nuclear equivalent diameter, level-0 px
    nucleus_spread: float | None  # (q75 - q25) / median of the nuclear diameters
    nuclei: int  # nuclei measured
    provenance: dict  # slidesnake_version, code_hash, params_json

    @property
    def level0_size(self) -> tuple[int, int]:
        return self.level0_width, self.level0_height

    def write(self, path: str | Path) -> None:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "provenance"}
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps({**values, **self.provenance}, indent=2))

    @classmethod
    def read(cls, path: str | Path) -> "MaskInfo":
        values = json.loads(Path(path).read_text())
        names = [f.name for f in fields(cls) if f.name != "provenance"]
        # files written before the scale check: no estimate, no nuclei
        values = {**{f.name: 0 if f.type == "int" else None for f in SCALE_FIELDS}, **values}
        return cls(**{k: values[k] for k in names}, provenance={k: v for k, v in values.items() if k not in names})


_NAMES = [f.name for f in fields(MaskInfo)]
SCALE_FIELDS = fields(MaskInfo)[_NAMES.index("scale_mpp") : _NAMES.index("provenance")]  # the scale check's keys

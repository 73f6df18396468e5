"""The mask-info contract, `results/masks/{slide}.json`: how a slide's tissue mask was made and what it found,
written by rule tissue_mask and read by the tiling, region and cohort-figure jobs. One JSON object whose keys
are the fields of MaskInfo, then the status keys of slidesnake.io.exclusion (`status`; for an excluded slide also
`stage`, `reason` and `source`, the sample sheet's file), then the provenance keys (slidesnake_version,
code_hash, params_json). An excluded slide's info keeps what was known (zeros and nulls for the rest)."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from slidesnake.core.atomic import atomic_output
from slidesnake.io.exclusion import NAMES as EXCLUSION_KEYS
from slidesnake.io.exclusion import STATUS, Exclusion, status_cells


@dataclass(frozen=True)
class MaskInfo:
    slide_id: str
    vendor: str | None  # OpenSlide's vendor name of the slide file
    level0_width: int
    level0_height: int
    mpp: float | None  # microns per level-0 pixel (None only for an excluded slide) ...
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
    exclusion: Exclusion | None = None  # why the slide was excluded; None: it passed

    @classmethod
    def excluded(cls, slide_id: str, exclusion: Exclusion, provenance: dict) -> "MaskInfo":
        """The info of a slide the mask job could not prepare: nothing measured."""
        return cls(
            **unmeasured_scale(),
            slide_id=slide_id,
            vendor=None,
            level0_width=0,
            level0_height=0,
            mpp=None,
            mpp_source="",
            level_downsamples=[],
            mask_downsample=[],
            mask_mpp=None,
            threshold=None,
            tissue_fraction=0.0,
            tissue_area_mm2=0.0,
            pen_fraction=0.0,
            provenance=provenance,
            exclusion=exclusion,
        )

    @property
    def level0_size(self) -> tuple[int, int]:
        return self.level0_width, self.level0_height

    def write(self, path: str | Path) -> None:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in OWN_KEYS}
        values.update(status_cells(self.exclusion))
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps({**values, **self.provenance}, indent=2))

    @classmethod
    def read(cls, path: str | Path) -> "MaskInfo":
        values = json.loads(Path(path).read_text())
        names = [f.name for f in fields(cls) if f.name not in OWN_KEYS]
        # files written before the scale check: no estimate, no nuclei
        values = {**unmeasured_scale(), **values}
        recorded = {*names, STATUS, *EXCLUSION_KEYS}
        return cls(
            **{k: values[k] for k in names},
            provenance={k: v for k, v in values.items() if k not in recorded},
            exclusion=Exclusion.from_attrs(values),
        )


OWN_KEYS = ("provenance", "exclusion")  # fields written as their own keys, not as one value
_NAMES = [f.name for f in fields(MaskInfo)]
SCALE_FIELDS = fields(MaskInfo)[_NAMES.index("scale_mpp") : _NAMES.index("provenance")]  # the scale check's keys
QC_FIELDS = (fields(MaskInfo)[_NAMES.index("tissue_area_mm2")], *SCALE_FIELDS)  # the QC table's mask info columns


def unmeasured_scale() -> dict:
    """The scale check's keys without an estimate."""
    return {f.name: 0 if f.type == "int" else None for f in SCALE_FIELDS}

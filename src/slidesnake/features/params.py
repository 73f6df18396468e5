"""Parameter objects of features/: tile features and HIPT's region features.

Built from the validated config (slidesnake.workflow.params.section_params); no defaults of their own: those
live in the config schema. Light: imported while Snakemake builds the DAG."""

from __future__ import annotations

from dataclasses import dataclass

BF16, FP32 = "bf16", "fp32"  # the values of `precision`: bf16 autocast, or full fp32


@dataclass(frozen=True)
class FeatureParams:
    model: str  # registry name or torchvision:/timm: name
    weights: str | None  # hub | random | checkpoint path; None when the features are imported
    batch_size: int
    num_workers: int
    reader: str  # auto | openslide | raw_jpeg
    precision: str  # bf16 (CUDA; CPU with native bf16, checked against fp32) | fp32
    device: str  # auto | cpu | cuda
    seed: int  # seed of random weights
    stain: str  # none | macenko | reinhard: normalised to the stain reference before encoding
    stain_fit: str  # tile | slide: the normalisation fitted to each tile, or once to the slide (stain.methods)
    import_features: dict | None  # {format: clam | trident, folder, encoder}: features read from that tool's files


@dataclass(frozen=True)
class RegionFeatureParams:
    vit256_weights: str  # hub is not published; random or HIPT's vit256_small_dino.pth
    vit4k_weights: str  # random or HIPT's vit4k_xs_dino.pth
    regions_per_batch: int
    keep_patch_tokens: bool
    num_workers: int
    reader: str
    precision: str
    device: str
    seed: int

"""Parameter objects of every stage, built from the validated config (defaults live only in the schema).

Rules pass `section_params(Params, config[section])` as a `params:` entry (a plain dict, so Snakemake
reruns a job when one of them changes); jobs rebuild the object with `Params(**params.x)`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


def section_params(cls, section: dict, **extra) -> dict:
    """The values `cls` takes, picked from a config section (plus `extra`), in field order."""
    merged = {**section, **extra}
    missing = [f.name for f in fields(cls) if f.name not in merged]
    if missing:
        raise KeyError(f"{cls.__name__} needs {missing}, which the config section lacks")
    return {f.name: merged[f.name] for f in fields(cls)}


@dataclass(frozen=True)
class DownloadParams:
    retries: int
    backoff_s: float
    timeout_s: float


@dataclass(frozen=True)
class MaskParams:
    mpp: float                  # resolution the mask is computed at
    channel: str                # saturation | od (optical density) | grey
    median_um: float            # median blur before thresholding
    threshold_floor: int        # never threshold below this (0-255): blank glass finds no tissue
    closing_um: float           # morphological closing radius
    min_tissue_area_um2: float  # drop smaller tissue pieces
    min_hole_area_um2: float    # fill smaller holes
    remove_pen: bool


@dataclass(frozen=True)
class TilingParams:
    tile_px: int                # tile size at the target resolution
    mpp: float                  # target microns per pixel
    overlap_px: int             # overlap between neighbours, at the target resolution
    min_tissue: float           # keep tiles with at least this tissue fraction


@dataclass(frozen=True)
class FeatureParams:
    model: str                  # registry name or torchvision:/timm: name
    weights: str                # hub | random | checkpoint path
    batch_size: int
    num_workers: int
    reader: str                 # auto | openslide | raw_jpeg
    precision: str              # bf16 (CUDA; CPU with native bf16, checked against fp32) | fp32
    device: str                 # auto | cpu | cuda
    seed: int                   # seed of random weights
    stain: str                  # none | macenko | reinhard: normalised to the stain reference before encoding


@dataclass(frozen=True)
class StainParams:
    reference: str              # cohort | path of a reference image
    reference_slides: int       # cohort reference: slides sampled (evenly over the sample sheet)
    tiles_per_slide: int        # tiles of each slide the reference (and the QC grid) is fitted on
    fit_px: int                 # tiles are fitted and normalised at this size (the encoders' input size)
    qc_slides: int              # slides (rows) of the before / after QC grid
    seed: int


@dataclass(frozen=True)
class TrainParams:
    epochs: int
    patience: int               # epochs without improvement of the smoothed validation loss before stopping
    min_validation_slides: int  # fewer (or a class missing): no early stopping, train + validation for all epochs
    lr: float                   # peak learning rate (linear warm-up, cosine decay)
    model_lr: dict              # model name -> its peak learning rate, in place of lr
    weight_decay: float
    max_tiles: int              # bags above this are randomly subsampled during training
    tile_dropout: float         # share of a training bag's tiles dropped each time it is seen
    class_weighting: bool
    clam_bag_weight: float      # CLAM: share of the bag loss against the instance loss
    instance_weight: float      # weight of the loss on annotated tiles' evidence (0: slide labels only)
    seed: int
    device: str
    model_kwargs: dict


@dataclass(frozen=True)
class PUParams:
    tumor_threshold: float      # annotated tumor fraction that makes a tile Positive
    use_negative_slides: bool   # PNU: tiles of negative slides as known negatives
    prior: float | None         # share of positives in U; None: estimate (Elkan-Noto)
    eta: float                  # PNU mixing of the PN and nnPU risks
    loss: str                   # logistic | sigmoid
    epochs: int                 # step budget in passes over U ...
    min_steps: int              # ... at least this many steps ...
    max_steps: int              # ... at most this many
    batch_size: int             # of each of P, U and N per step
    lr: float
    weight_decay: float
    hidden: int
    dropout: float
    validation_share: float     # of P, U and N held out for model selection
    eval_every: int             # steps between validation checks
    patience: int               # checks without improvement before stopping
    top_k: int                  # slide score: mean of the top-k tile probabilities
    seed: int


@dataclass(frozen=True)
class ClassifierParams:
    model: str                  # backbone: registry name, torchvision:<name> or timm:<name>
    weights: str                # hub | random | checkpoint path
    head_epochs: int            # the linear head on the frozen backbone ...
    finetune_epochs: int        # ... then the whole network (0: head only)
    batch_size: int
    lr_head: float
    lr_finetune: float
    weight_decay: float
    patience: int               # epochs without validation-loss improvement before a phase stops
    validation_share: float
    test_share: float
    augment: bool               # flips, 90-degree rotations, HED jitter
    hed_jitter: float
    class_weighting: bool
    top_k: int
    patch_mpp: float            # microns per pixel of the patch set
    seed: int


@dataclass(frozen=True)
class RegionParams:
    patch_px: int               # HIPT patch side at the target mpp (256)
    patches_per_side: int       # patches along a region side (16: 4096 px regions)
    mpp: float | None           # target microns per pixel (None: tiling.mpp)
    min_tissue: float           # keep regions with at least this tissue share


@dataclass(frozen=True)
class RegionFeatureParams:
    vit256_weights: str         # hub is not published; random or HIPT's vit256_small_dino.pth
    vit4k_weights: str          # random or HIPT's vit4k_xs_dino.pth
    regions_per_batch: int
    keep_patch_tokens: bool
    num_workers: int
    reader: str
    precision: str
    device: str
    seed: int


@dataclass(frozen=True)
class HeatmapParams:
    cmap: str
    alpha: float
    smooth_px: float
    region_threshold: float
    top_k: int

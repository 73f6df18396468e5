"""Parameter objects of mil/: MIL training.

Built from the validated config (slidesnake.workflow.params.section_params); no defaults of their own: those
live in the config schema. Light: imported while Snakemake builds the DAG."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainParams:
    epochs: int
    patience: int  # epochs without improvement of the smoothed validation loss before stopping
    min_validation_slides: int  # fewer (or a class missing): no early stopping, train + validation for all epochs
    lr: float  # peak learning rate (linear warm-up, cosine decay)
    model_lr: dict  # model name -> its peak learning rate, in place of lr
    weight_decay: float
    max_tiles: int  # bags above this are randomly subsampled during training
    tile_dropout: float  # share of a training bag's tiles dropped each time it is seen
    class_weighting: bool
    clam_bag_weight: float  # CLAM: share of the bag loss against the instance loss
    instance_weight: float  # weight of the loss on annotated tiles' evidence (0: slide labels only)
    batch_correction: str  # batch-effect remedy on the features before MIL (mil.correction.BATCH_CORRECTIONS)
    site_adversary: float  # weight of the domain-adversarial site head's loss (0: none; mil.correction)
    seed: int
    device: str
    model_kwargs: dict

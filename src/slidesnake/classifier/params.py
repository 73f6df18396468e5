"""Parameter objects of classifier/: the supervised tile classifier.

Built from the validated config (slidesnake.workflow.params.section_params); no defaults of their own: those
live in the config schema. Light: imported while Snakemake builds the DAG."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClassifierParams:
    model: str  # backbone: registry name, torchvision:<name> or timm:<name>
    weights: str  # hub | random | checkpoint path
    head_epochs: int  # the linear head on the frozen backbone ...
    finetune_epochs: int  # ... then the whole network (0: head only)
    batch_size: int
    lr_head: float
    lr_finetune: float
    weight_decay: float
    patience: int  # epochs without validation-loss improvement before a phase stops
    validation_share: float
    test_share: float
    augment: bool  # flips, 90-degree rotations, HED jitter
    hed_jitter: float
    class_weighting: bool
    top_k: int
    patch_mpp: float  # microns per pixel of the patch set
    seed: int

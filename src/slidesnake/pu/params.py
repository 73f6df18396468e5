"""Parameter objects of pu/: PU learning on tiles.

Built from the validated config (slidesnake.workflow.params.section_params); no defaults of their own: those
live in the config schema. Light: imported while Snakemake builds the DAG."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PUParams:
    tumor_threshold: float  # annotated tumor fraction that makes a tile Positive
    use_negative_slides: bool  # PNU: tiles of negative slides as known negatives
    prior: float | None  # share of positives in U; None: estimate (Elkan-Noto)
    eta: float  # PNU mixing of the PN and nnPU risks
    loss: str  # logistic | sigmoid
    epochs: int  # step budget in passes over U ...
    min_steps: int  # ... at least this many steps ...
    max_steps: int  # ... at most this many
    batch_size: int  # of each of P, U and N per step
    lr: float
    weight_decay: float
    hidden: int
    dropout: float
    validation_share: float  # of P, U and N held out for model selection
    eval_every: int  # steps between validation checks
    patience: int  # checks without improvement before stopping
    top_k: int  # slide score: mean of the top-k tile probabilities
    mask_threshold: str | float  # tumor mask: "dice", "prior" (see pu.masks) or a probability
    seed: int

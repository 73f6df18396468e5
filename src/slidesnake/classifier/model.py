"""The tile classifier: an encoder backbone (registry, torchvision: or timm: name) and a linear head."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from slidesnake.features.encoders import EncoderSpec, build_encoder, output_dim, spec_for


class TileClassifierNet(nn.Module):
    """Backbone, feature standardisation (the training patches' statistics, kept in the checkpoint), and a
    linear head: standardised features let one head learning rate serve pretrained and random backbones."""

    def __init__(self, backbone: nn.Module, dim: int, n_classes: int):
        super().__init__()
        self.backbone, self.head = backbone, nn.Linear(dim, n_classes)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def standardise(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.standardise(self.backbone(x)))


def build_classifier(model: str, weights: str, n_classes: int, seed: int) -> tuple[TileClassifierNet, EncoderSpec, str]:
    """Backbone with its weights (hub, local checkpoint, or random when asked for) and a fresh head."""
    backbone, spec, source = build_encoder(model, weights, seed)
    torch.manual_seed(seed)
    return TileClassifierNet(backbone, output_dim(backbone, spec), n_classes), spec, source


def save_classifier(
    path: Path, net: TileClassifierNet, model: str, classes: list[str], patch_mpp: float, patch_px: int, source: str
) -> None:
    """state_dict and what rebuilds the network; loadable with weights_only=True."""
    torch.save(
        {
            "state_dict": net.state_dict(),
            "model": model,
            "classes": list(classes),
            "patch_mpp": patch_mpp,
            "patch_px": patch_px,
            "backbone_weights": source,
            "dim": net.head.in_features,
        },
        path,
    )


def load_classifier(path: Path, device="cpu") -> tuple[TileClassifierNet, EncoderSpec, dict]:
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    spec = spec_for(checkpoint["model"])
    backbone = spec.build(False)
    net = TileClassifierNet(backbone, checkpoint["dim"], len(checkpoint["classes"]))
    net.load_state_dict(checkpoint["state_dict"])
    return net.eval(), spec, checkpoint

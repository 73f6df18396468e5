"""Optical density, the space stains add up in (Beer-Lambert), and back: the one conversion of stain
normalisation and HED augmentation."""

from __future__ import annotations

import torch


def optical_density(rgb: torch.Tensor) -> torch.Tensor:
    """RGB (uint8, or float 0-255 in any float dtype) -> optical density -log((I + 1) / 256)."""
    x = rgb if rgb.is_floating_point() else rgb.float()
    return -torch.log((x.clamp(0, 255) + 1) / 256)


def rgb_from_optical_density(od: torch.Tensor) -> torch.Tensor:
    return (256 * torch.exp(-od) - 1).clamp(0, 255)

"""HED augmentation: each image's haematoxylin, eosin and DAB densities scaled and shifted at random
(Tellez et al. 2018), batched in torch on the images' device."""

from __future__ import annotations

import torch

from slidesnake.stain.optical_density import optical_density, rgb_from_optical_density

# Ruifrok & Johnston stain vectors (rows: haematoxylin, eosin, DAB), as skimage.color.hed_from_rgb inverts
RGB_FROM_HED = torch.tensor([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]])


def stain_matrix(device) -> torch.Tensor:
    vectors = RGB_FROM_HED / RGB_FROM_HED.norm(dim=1, keepdim=True)
    return vectors.to(device)


def hed_jitter(rgb: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """N x 3 x H x W images (uint8 or float 0-255) with their H, E and D concentrations each multiplied by
    1 + U(-sigma, sigma) and shifted by U(-sigma, sigma) (one draw per image and stain); returns float 0-255."""
    n = rgb.shape[0]
    matrix = stain_matrix(rgb.device)  # 3 stains x 3 channels
    od = optical_density(rgb).permute(0, 2, 3, 1)  # N x H x W x 3
    concentrations = od @ torch.linalg.inv(matrix)  # N x H x W x 3 stains
    scale = 1 + (torch.rand(n, 1, 1, 3, generator=generator) * 2 - 1).to(rgb.device) * sigma
    shift = (torch.rand(n, 1, 1, 3, generator=generator) * 2 - 1).to(rgb.device) * sigma
    od = (concentrations * scale + shift) @ matrix
    return rgb_from_optical_density(od.clamp_min(0)).permute(0, 3, 1, 2)

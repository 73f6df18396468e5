"""HIPT's hierarchy (Chen et al. 2022): ViT-256 encodes each 256 px patch of a 4096 px region, ViT-4K encodes
the region from the 16 x 16 grid of patch [CLS] tokens. Weights load from HIPT's published checkpoints
(`vit256_small_dino.pth`, `vit4k_xs_dino.pth`: DINO `teacher` state dicts with `module.` / `backbone.`
prefixes and a projection head), or are random when asked for."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from slidesnake.features.encoders import EncoderError, build_encoder, read_checkpoint

VIT4K_DIM, VIT256_DIM = 192, 384
PRETRAINED_GRID = 14  # HIPT's ViT-4K keeps the 224 px position table (14 x 14 + 1) and interpolates it


class VisionTransformer4K(nn.Module):
    """HIPT's ViT-4K (vit4k_xs): patch tokens projected 384 -> 192 (phi), a [CLS] token, position embeddings
    interpolated to the token grid, 6 blocks of 6 heads, LayerNorm; returns the [CLS] token."""

    def __init__(
        self, input_dim: int = VIT256_DIM, dim: int = VIT4K_DIM, depth: int = 6, heads: int = 6, dropout: float = 0.0
    ):
        super().__init__()
        from timm.models.vision_transformer import Block

        self.phi = nn.Sequential(nn.Linear(input_dim, dim), nn.GELU(), nn.Dropout(dropout))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, PRETRAINED_GRID**2 + 1, dim))
        norm = partial(nn.LayerNorm, eps=1e-6)
        self.blocks = nn.ModuleList(
            Block(dim, heads, mlp_ratio=4.0, qkv_bias=True, norm_layer=norm) for _ in range(depth)
        )
        self.norm = norm(dim)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def position_embedding(self, height: int, width: int) -> torch.Tensor:
        table = self.pos_embed
        if height == width == PRETRAINED_GRID:
            return table
        grid = table[:, 1:].reshape(1, PRETRAINED_GRID, PRETRAINED_GRID, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(height, width), mode="bicubic", align_corners=False)
        return torch.cat([table[:, :1], grid.permute(0, 2, 3, 1).reshape(1, height * width, -1)], 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: B x 384 x h x w grid of ViT-256 [CLS] tokens -> B x 192."""
        batch, _, height, width = tokens.shape
        x = self.phi(tokens.flatten(2).transpose(1, 2))
        x = torch.cat([self.cls_token.expand(batch, -1, -1), x], 1) + self.position_embedding(height, width)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)[:, 0]


def published_state_dict(path: Path, name: str) -> dict:
    """The state dict of a HIPT / DINO checkpoint: its `teacher` (else `student` or `state_dict`) entry,
    `module.` and `backbone.` prefixes removed, the DINO projection head dropped."""
    state = read_checkpoint(path, name)
    for key in ("teacher", "student", "state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    cleaned = {}
    for key, value in state.items():
        for prefix in ("module.", "backbone."):
            key = key.removeprefix(prefix)
        if not key.startswith("head."):
            cleaned[key] = value
    return cleaned


def load_published(model: nn.Module, path: Path, name: str) -> None:
    """Load a published checkpoint strictly: a missing, unexpected or mis-shaped key is an error naming it.
    Position tables of another grid are resampled (HIPT's ViT-256 checkpoint has the 224 px table)."""
    state = published_state_dict(path, name)
    own = model.state_dict()
    if (
        "pos_embed" in state
        and "pos_embed" in own
        and state["pos_embed"].shape != own["pos_embed"].shape
        and not isinstance(model, VisionTransformer4K)
    ):
        from timm.layers import resample_abs_pos_embed

        side = int(math.sqrt(own["pos_embed"].shape[1] - 1))
        state["pos_embed"] = resample_abs_pos_embed(state["pos_embed"], (side, side), num_prefix_tokens=1)
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or mismatched:
        detail = "; ".join(
            f"{what}: {keys[:4]}{' ...' if len(keys) > 4 else ''}"
            for what, keys in (
                ("missing", missing),
                ("unexpected", unexpected),
                ("shape differs", [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in mismatched]),
            )
            if keys
        )
        raise EncoderError(f"{name}: checkpoint {path} does not fit ({detail})")
    model.load_state_dict(state)


def build_vit4k(weights: str, seed: int) -> tuple[VisionTransformer4K, str]:
    torch.manual_seed(seed)
    model = VisionTransformer4K()
    if weights == "random":
        return model.eval(), f"random (explicitly requested, seed {seed})"
    if weights == "hub":
        raise EncoderError(
            "ViT-4K: HIPT's weights have no hub entry; set region_features.vit4k_weights to the "
            "path of vit4k_xs_dino.pth (github.com/mahmoodlab/HIPT, HIPT_4K/Checkpoints)"
        )
    path = Path(weights).expanduser()
    load_published(model, path, "ViT-4K")
    return model.eval(), f"checkpoint: {path.resolve()}"


def build_vit256(weights: str, seed: int):
    """ViT-S/16 at 256 px (the registry's hipt_vit_s16) with HIPT's published layout for local checkpoints."""
    if weights in ("random", "hub"):
        return build_encoder("hipt_vit_s16", weights, seed)
    model, spec, _ = build_encoder("hipt_vit_s16", "random", seed)
    path = Path(weights).expanduser()
    load_published(model, path, "ViT-256")
    return model.eval(), spec, f"checkpoint: {path.resolve()}"

"""Tile encoders by name (the timm pattern): each entry knows its input size, normalisation and output dim.

Weights are one of: "random" (asked for explicitly: demos and tests), "hub" (the model's published
weights, downloaded by timm / torchvision / transformers), or a path to a local checkpoint
(loaded with weights_only=True). Nothing ever falls back to random weights silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from slidesnake.core.errors import SlidesnakeError

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
HIPT = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # HIPT's eval transform
SLIDE_NORM = "slide"  # HistoEncoder normalises with each slide's own channel mean and std (from its tiles)
HOPTIMUS = ((0.707223, 0.578729, 0.703617), (0.211883, 0.230117, 0.177517))


class EncoderError(SlidesnakeError):
    pass


@dataclass(frozen=True)
class EncoderSpec:
    name: str
    build: Callable[[bool], nn.Module]  # build(pretrained) -> module returning N x dim
    dim: int | None  # None: found by a forward pass
    input_size: int = 224
    norm: tuple = IMAGENET
    hub: str = ""  # where "hub" weights come from (for messages and docs)
    kwargs: dict = field(default_factory=dict)


class TruncatedResNet50(nn.Module):
    """ResNet50 through layer3 and global average pooling: CLAM's 1024-d baseline."""

    def __init__(self, pretrained: bool):
        super().__init__()
        import torchvision

        weights = torchvision.models.ResNet50_Weights.IMAGENET1K_V1 if pretrained else None
        net = torchvision.models.resnet50(weights=weights)
        self.body = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        return self.pool(self.body(x)).flatten(1)


class ClassAndMeanTokens(nn.Module):
    """Virchow-style embedding: class token concatenated with the mean of the patch tokens."""

    def __init__(self, model: nn.Module, skip_tokens: int):
        super().__init__()
        self.model, self.skip_tokens = model, skip_tokens

    def forward(self, x):
        tokens = self.model.forward_features(x)
        return torch.cat([tokens[:, 0], tokens[:, self.skip_tokens :].mean(1)], dim=1)


class HuggingFaceClassToken(nn.Module):
    """transformers ViT models (Phikon): the class token of the last hidden state."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(pixel_values=x).last_hidden_state[:, 0]


def torchvision_model(name: str, pretrained: bool) -> nn.Module:
    import torchvision

    model = torchvision.models.get_model(name, weights="DEFAULT" if pretrained else None)
    for head in ("fc", "classifier", "heads", "head"):
        if hasattr(model, head):
            setattr(model, head, nn.Identity())
            return model
    raise EncoderError(f"torchvision model '{name}' has no known classification head to remove")


def timm_model(architecture: str, hub: str | None, pretrained: bool, **kwargs) -> nn.Module:
    import timm

    if pretrained and hub:
        return timm.create_model(hub, pretrained=True, num_classes=0, **kwargs)
    return timm.create_model(architecture, pretrained=pretrained, num_classes=0, **kwargs)


def swiglu_kwargs() -> dict:
    import timm.layers

    return {"mlp_layer": timm.layers.SwiGLUPacked, "act_layer": torch.nn.SiLU}


def uni2_kwargs() -> dict:
    return {
        "img_size": 224,
        "patch_size": 14,
        "depth": 24,
        "num_heads": 24,
        "init_values": 1e-5,
        "embed_dim": 1536,
        "mlp_ratio": 2.66667 * 2,
        "no_embed_class": True,
        "reg_tokens": 8,
        "dynamic_img_size": True,
        **swiglu_kwargs(),
    }


def phikon(pretrained: bool) -> nn.Module:
    try:
        import transformers
    except ImportError as error:
        raise EncoderError("encoder 'phikon' needs the transformers package (pip install transformers)") from error
    if pretrained:
        return HuggingFaceClassToken(transformers.ViTModel.from_pretrained("owkin/phikon", add_pooling_layer=False))
    config = transformers.ViTConfig(
        image_size=224,
        patch_size=16,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
    )
    return HuggingFaceClassToken(transformers.ViTModel(config, add_pooling_layer=False))


REGISTRY: dict[str, EncoderSpec] = {}


def register(spec: EncoderSpec) -> None:
    REGISTRY[spec.name] = spec


register(EncoderSpec("resnet50_trunc", TruncatedResNet50, 1024, hub="torchvision ResNet50 IMAGENET1K_V1"))
register(EncoderSpec("resnet18", lambda p: torchvision_model("resnet18", p), 512, hub="torchvision IMAGENET1K_V1"))
register(
    EncoderSpec(
        "hipt_vit_s16",
        lambda p: timm_model("vit_small_patch16_224", None, p, img_size=256),
        384,
        input_size=256,
        norm=HIPT,
        hub="no public hub entry: point weights to HIPT's vit256_small_dino.pth",
    )
)
register(
    EncoderSpec(
        "uni",
        lambda p: timm_model(
            "vit_large_patch16_224", "hf-hub:MahmoodLab/uni", p, init_values=1e-5, dynamic_img_size=True
        ),
        1024,
        hub="hf-hub:MahmoodLab/uni (gated: accept the licence, then huggingface-cli login)",
    )
)
register(
    EncoderSpec(
        "uni2",
        lambda p: timm_model("vit_huge_patch14_224", "hf-hub:MahmoodLab/UNI2-h", p, **uni2_kwargs()),
        1536,
        hub="hf-hub:MahmoodLab/UNI2-h (gated)",
    )
)
register(
    EncoderSpec(
        "virchow2",
        lambda p: ClassAndMeanTokens(
            timm_model(
                "vit_huge_patch14_224",
                "hf-hub:paige-ai/Virchow2",
                p,
                img_size=224,
                init_values=1e-5,
                reg_tokens=4,
                mlp_ratio=5.3375,
                global_pool="",
                dynamic_img_size=True,
                **swiglu_kwargs(),
            ),
            skip_tokens=5,
        ),
        2560,
        hub="hf-hub:paige-ai/Virchow2 (gated)",
    )
)
register(
    EncoderSpec(
        "h_optimus_0",
        lambda p: timm_model(
            "vit_giant_patch14_reg4_dinov2",
            "hf-hub:bioptimus/H-optimus-0",
            p,
            img_size=224,
            init_values=1e-5,
            dynamic_img_size=False,
        ),
        1536,
        norm=HOPTIMUS,
        hub="hf-hub:bioptimus/H-optimus-0",
    )
)
register(
    EncoderSpec(
        "h_optimus_1",
        lambda p: timm_model(
            "vit_giant_patch14_reg4_dinov2",
            "hf-hub:bioptimus/H-optimus-1",
            p,
            img_size=224,
            init_values=1e-5,
            dynamic_img_size=False,
        ),
        1536,
        norm=HOPTIMUS,
        hub="hf-hub:bioptimus/H-optimus-1 (gated)",
    )
)
register(EncoderSpec("phikon", phikon, 768, hub="huggingface owkin/phikon (transformers)"))

HISTOENCODER_RELEASE = "https://github.com/jopo666/HistoEncoder/releases/download/v0.0.1-state-dict"


def histoencoder(architecture: str, name: str, pretrained: bool) -> nn.Module:
    """HistoEncoder (Pohjonen et al.): a timm XCiT whose published state dict is a GitHub release asset."""
    import timm

    model = timm.create_model(architecture, pretrained=False, num_classes=0)
    if pretrained:
        model.load_state_dict(
            torch.hub.load_state_dict_from_url(f"{HISTOENCODER_RELEASE}/{name}.pth", map_location="cpu")
        )
    return model


for _name, _architecture, _dim in (
    ("prostate_small", "xcit_small_12_p16_224", 384),
    ("prostate_medium", "xcit_medium_24_p16_224", 512),
):
    register(
        EncoderSpec(
            f"histoencoder_{_name}",
            lambda p, a=_architecture, n=_name: histoencoder(a, n, p),
            _dim,
            norm=SLIDE_NORM,
            hub=f"{HISTOENCODER_RELEASE}/{_name}.pth (HistoEncoder's published weights)",
        )
    )


def spec_for(name: str) -> EncoderSpec:
    """Registry entry, or an entry made on the fly for "torchvision:<model>" and "timm:<model>" names."""
    if name in REGISTRY:
        return REGISTRY[name]
    kind, _, model = name.partition(":")
    if kind == "torchvision" and model:
        return EncoderSpec(name, lambda p: torchvision_model(model, p), None, hub=f"torchvision {model} DEFAULT")
    if kind == "timm" and model:
        return EncoderSpec(name, lambda p: timm_model(model, model, p), None, hub=f"timm {model}")
    raise EncoderError(
        f"unknown encoder '{name}'; choose one of {sorted(REGISTRY)} or 'torchvision:<model>' / 'timm:<model>'"
    )


def read_checkpoint(path: Path, what: str):
    """A local checkpoint loaded safely (weights_only); a missing or unreadable file is an EncoderError
    naming `what` and the path."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise EncoderError(f"{what}: checkpoint not found: {path}") from None
    except Exception as error:
        raise EncoderError(f"{what}: cannot load {path} as a state dict: {error}") from error


def load_encoder_weights(model: nn.Module, path: Path, name: str) -> None:
    """Load a local state dict safely (weights_only), tolerating common wrappers and prefixes."""
    state = read_checkpoint(path, f"encoder '{name}'")
    for key in ("state_dict", "model", "teacher"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    target = model.model if isinstance(model, (ClassAndMeanTokens, HuggingFaceClassToken)) else model
    own = set(target.state_dict())
    for prefix in ("module.", "backbone.", "model."):
        if state and all(k.startswith(prefix) for k in state) and not own & set(state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    missing, unexpected = target.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith(("head.", "fc.", "classifier."))]
    if missing:
        raise EncoderError(
            f"encoder '{name}': checkpoint {path} lacks {len(missing)} weights "
            f"(first: {missing[:3]}); it does not fit this architecture"
        )


def build_encoder(name: str, weights: str, seed: int = 0) -> tuple[nn.Module, EncoderSpec, str]:
    """Model in eval mode, its spec, and a description of where its weights came from."""
    spec = spec_for(name)
    if weights == "random":
        torch.manual_seed(seed)
        model, source = spec.build(False), f"random (explicitly requested, seed {seed})"
    elif weights == "hub":
        try:
            model = spec.build(True)
        except EncoderError:
            raise
        except Exception as error:
            raise EncoderError(
                f"encoder '{name}': could not load hub weights from {spec.hub}: {type(error).__name__}: {error}. "
                "Without internet access, download the checkpoint elsewhere and set the encoder's weights "
                "to its local path (features.weights in the config); weights are never replaced by random "
                "ones silently"
            ) from error
        source = f"hub: {spec.hub}"
    else:
        path = Path(weights).expanduser()
        model = spec.build(False)
        load_encoder_weights(model, path, name)
        source = f"checkpoint: {path.resolve()}"
    model.eval()
    return model, spec, source


def output_dim(model: nn.Module, spec: EncoderSpec) -> int:
    if spec.dim is not None:
        return spec.dim
    with torch.no_grad():
        return int(model(torch.zeros(1, 3, spec.input_size, spec.input_size)).shape[1])

"""MIL models: forward(bag N x D) -> (slide logits C, tile scores). One registry, like the encoders.

Tile scores are a dict of per-tile arrays: "score", the tile's evidence for the positive class (the margin of
the positive class's logit when the slide classifier is applied to the tile's own embedding: for attention
models, the slide logit is the attention-weighted sum of these), and for attention models "attention".
On simulated cohorts with known tumor tiles the evidence localises tumor better than attention does
(README, "Learning under hard conditions"), so heatmaps paint the evidence."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from slidesnake.core.labels import POSITIVE_INDEX
from slidesnake.io.tile_scores import MIL_ATTENTION, MIL_SCORE
from slidesnake.mil.correction import correct_bag, corrected_dim
from slidesnake.mil.names import BATCH_CORRECTIONS, NO_CORRECTION

EVIDENCE, ATTENTION = MIL_SCORE, MIL_ATTENTION
# Dropout on the tile embeddings of the pooling and gated-attention models: 0.5 with training.tile_dropout 0.5
# lifted ABMIL on the real-tissue benchmark from slide AUC 0.84 / evidence localisation 0.76 to 0.90 / 0.89
# (README, "Real-tissue benchmark"); 0.25 was the simulator's choice.
TILE_MODEL_DROPOUT = 0.5


def positive_evidence(tile_logits: torch.Tensor) -> torch.Tensor:
    """Per tile: the positive class's logit minus the mean logit of the other classes; with a single output (a
    survival or regression head) the tile's own output, its contribution to the slide's risk or value (for the
    attention models the slide output is the attention-weighted sum of these)."""
    if tile_logits.shape[1] == 1:
        return tile_logits[:, 0]
    positive = tile_logits[:, POSITIVE_INDEX]
    return positive - (tile_logits.sum(1) - positive) / (tile_logits.shape[1] - 1)


class MILModel(nn.Module):
    """Base: subclasses return slide logits and a dict of per-tile scores (EVIDENCE, and ATTENTION)."""

    def forward(self, bag: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def forward_with_aux(
        self, bag: torch.Tensor, label: int | None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor | None]:
        """Training forward: logits, tile scores and an extra loss (CLAM's instance clustering) or None (always
        for `label` None: survival and regression slides have no class)."""
        logits, scores = self(bag)
        return logits, scores, None


def tile_embedding(in_dim: int, hidden: int, dropout: float) -> nn.Sequential:
    """Linear + ReLU + dropout to `hidden` units; hidden 0 keeps the features (dropout only): the pooling
    models' instance classifiers are then linear in the features."""
    if hidden == 0:
        return nn.Sequential(nn.Dropout(dropout))
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout))


def embedded_dim(in_dim: int, hidden: int) -> int:
    return hidden or in_dim


class MeanPool(MILModel):
    """Embed tiles, average, classify. Tile evidence: the classifier applied to each tile embedding."""

    def __init__(self, in_dim: int, n_classes: int, hidden: int = 256, dropout: float = TILE_MODEL_DROPOUT):
        super().__init__()
        self.embed, self.classifier = (
            tile_embedding(in_dim, hidden, dropout),
            nn.Linear(embedded_dim(in_dim, hidden), n_classes),
        )

    def forward(self, bag):
        h = self.embed(bag)
        return self.classifier(h.mean(0)), {EVIDENCE: positive_evidence(self.classifier(h))}


class MaxPool(MILModel):
    """Instance classifier per tile; the slide takes the logits of its tile with the most evidence for the
    positive class (CLAM's MIL_fc baseline with top-1). Taking each class's maximum separately instead let a
    positive slide's benign tiles raise the negative class too, and failed on simulated cohorts."""

    def __init__(self, in_dim: int, n_classes: int, hidden: int = 256, dropout: float = TILE_MODEL_DROPOUT):
        super().__init__()
        self.embed, self.classifier = (
            tile_embedding(in_dim, hidden, dropout),
            nn.Linear(embedded_dim(in_dim, hidden), n_classes),
        )

    def forward(self, bag):
        tile_logits = self.classifier(self.embed(bag))
        evidence = positive_evidence(tile_logits)
        return tile_logits[evidence.argmax()], {EVIDENCE: evidence}


class TopKPool(MILModel):
    """Instance classifier per tile; the slide takes the mean logits of the `top_share` of its tiles with the
    most evidence for the positive class (at least one tile). Between max pooling (top-1, which learns from
    one noisy tile per bag) and mean pooling (which dilutes a small tumor in its slide's benign tiles)."""

    def __init__(
        self,
        in_dim: int,
        n_classes: int,
        hidden: int = 256,
        dropout: float = TILE_MODEL_DROPOUT,
        top_share: float = 0.1,
    ):
        super().__init__()
        self.embed, self.classifier = (
            tile_embedding(in_dim, hidden, dropout),
            nn.Linear(embedded_dim(in_dim, hidden), n_classes),
        )
        self.top_share = top_share

    def forward(self, bag):
        tile_logits = self.classifier(self.embed(bag))
        evidence = positive_evidence(tile_logits)
        k = max(1, math.ceil(self.top_share * len(bag)))
        return tile_logits[torch.topk(evidence, k).indices].mean(0), {EVIDENCE: evidence}


class GatedAttention(nn.Module):
    """a_i = softmax_i( w^T (tanh(V h_i) * sigmoid(U h_i)) ), Ilse et al. 2018."""

    def __init__(self, dim: int, attention_dim: int, dropout: float, heads: int = 1):
        super().__init__()
        self.v = nn.Sequential(nn.Linear(dim, attention_dim), nn.Tanh(), nn.Dropout(dropout))
        self.u = nn.Sequential(nn.Linear(dim, attention_dim), nn.Sigmoid(), nn.Dropout(dropout))
        self.w = nn.Linear(attention_dim, heads)

    def forward(self, h):  # returns raw scores N x heads
        return self.w(self.v(h) * self.u(h))


class ABMIL(MILModel):
    """Gated attention MIL (Ilse et al. 2018). Tile scores: evidence and attention weight."""

    def __init__(
        self,
        in_dim: int,
        n_classes: int,
        hidden: int = 256,
        attention_dim: int = 128,
        dropout: float = TILE_MODEL_DROPOUT,
    ):
        super().__init__()
        self.embed = tile_embedding(in_dim, hidden, dropout)
        self.attention = GatedAttention(embedded_dim(in_dim, hidden), attention_dim, dropout)
        self.classifier = nn.Linear(embedded_dim(in_dim, hidden), n_classes)

    def forward(self, bag):
        h = self.embed(bag)
        a = torch.softmax(self.attention(h)[:, 0], dim=0)
        return self.classifier(a @ h), {EVIDENCE: positive_evidence(self.classifier(h)), ATTENTION: a}


class CLAMSingleBranch(MILModel):
    """CLAM-SB (Lu et al. 2021): gated attention plus per-class instance classifiers trained on the
    top-k / bottom-k attended tiles (pseudo-labels) as an auxiliary clustering loss."""

    def __init__(
        self,
        in_dim: int,
        n_classes: int,
        hidden: int = 256,
        attention_dim: int = 128,
        dropout: float = TILE_MODEL_DROPOUT,
        k_sample: int = 8,
        subtyping: bool = False,
    ):
        super().__init__()
        self.embed = tile_embedding(in_dim, hidden, dropout)
        self.attention = GatedAttention(embedded_dim(in_dim, hidden), attention_dim, dropout)
        self.classifier = nn.Linear(embedded_dim(in_dim, hidden), n_classes)
        self.instance_classifiers = nn.ModuleList(nn.Linear(embedded_dim(in_dim, hidden), 2) for _ in range(n_classes))
        self.k_sample, self.n_classes, self.subtyping = k_sample, n_classes, subtyping

    def forward(self, bag):
        logits, tile_scores, _ = self._attend(bag)
        return logits, tile_scores

    def _attend(self, bag):
        h = self.embed(bag)
        scores = self.attention(h)[:, 0]
        a = torch.softmax(scores, dim=0)
        tile_scores = {EVIDENCE: positive_evidence(self.classifier(h)), ATTENTION: a}
        return self.classifier(a @ h), tile_scores, (h, scores)

    def forward_with_aux(self, bag, label):
        logits, tile_scores, (h, scores) = self._attend(bag)
        if label is None:
            return logits, tile_scores, None
        return logits, tile_scores, self._instance_loss(h, scores, label, bag.device)

    def _instance_loss(self, h, scores, label, device):
        k = min(self.k_sample, len(h) // 2)
        if k < 1:
            return None
        losses = []
        for c, classifier in enumerate(self.instance_classifiers):
            top = h[torch.topk(scores, k).indices]
            bottom = h[torch.topk(-scores, k).indices]
            if c == int(label):  # in-class: top tiles positive, bottom tiles negative
                logits = classifier(torch.cat([top, bottom]))
                target = torch.cat([torch.ones(k), torch.zeros(k)]).long().to(device)
            elif self.subtyping:  # out-of-class: its top tiles are negative for this class
                logits, target = classifier(top), torch.zeros(k, dtype=torch.long, device=device)
            else:
                continue
            losses.append(F.cross_entropy(logits, target))
        return torch.stack(losses).mean() if losses else None


class PPEG(nn.Module):
    """TransMIL's pyramid position encoding: depthwise convolutions over the tokens laid out on a square."""

    def __init__(self, dim: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(dim, dim, k, 1, k // 2, groups=dim) for k in (7, 5, 3))

    def forward(self, tokens, side):
        cls, feat = tokens[:, :1], tokens[:, 1:]
        grid = feat.transpose(1, 2).reshape(feat.shape[0], feat.shape[2], side, side)
        grid = grid + sum(conv(grid) for conv in self.convs)
        return torch.cat([cls, grid.flatten(2).transpose(1, 2)], dim=1)


class TransLayer(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)

    def forward(self, x, need_weights=False):
        y = self.norm(x)
        out, weights = self.attention(y, y, y, need_weights=need_weights, average_attn_weights=True)
        return x + out, weights


class TransMIL(MILModel):
    """TransMIL (Shao et al. 2021) with exact multi-head attention in place of Nystrom attention.
    Tile scores: evidence (the classifier on each tile's output token) and the class token's attention to
    each tile in the last layer."""

    def __init__(self, in_dim: int, n_classes: int, hidden: int = 256, heads: int = 4, dropout: float = 0.1):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU())
        self.cls_token = nn.Parameter(torch.randn(1, 1, hidden) * 0.02)
        self.layer1, self.layer2 = TransLayer(hidden, heads, dropout), TransLayer(hidden, heads, dropout)
        self.ppeg = PPEG(hidden)
        self.norm = nn.LayerNorm(hidden)
        self.classifier = nn.Linear(hidden, n_classes)

    def forward(self, bag):
        n = len(bag)
        h = self.embed(bag)[None]
        side = math.ceil(math.sqrt(n))
        h = torch.cat([h, h[:, : side * side - n]], dim=1) if side * side > n else h  # pad by repetition
        x = torch.cat([self.cls_token, h], dim=1)
        x, _ = self.layer1(x)
        x = self.ppeg(x, side)
        x, weights = self.layer2(x, need_weights=True)
        tokens = self.norm(x)[0]
        tile_scores = {
            EVIDENCE: positive_evidence(self.classifier(tokens[1 : n + 1])),
            ATTENTION: weights[0, 0, 1 : n + 1],
        }
        return self.classifier(tokens[0]), tile_scores


class HIPTGlobal(MILModel):
    """HIPT's slide level (HIPT_LGP_FC without its local ViT-4K, which the region features already are):
    region embeddings through a linear layer, an optional 2-layer transformer over the regions, gated
    attention pooling, rho, classifier. Tile scores: region evidence and attention."""

    def __init__(
        self,
        in_dim: int,
        n_classes: int,
        hidden: int = 192,
        dropout: float = 0.25,
        transformer: bool = True,
        heads: int = 3,
    ):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout))
        layer = nn.TransformerEncoderLayer(hidden, heads, dim_feedforward=hidden, dropout=dropout, batch_first=True)
        self.transformer = (
            nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False) if transformer else None
        )
        self.attention = GatedAttention(hidden, hidden, dropout)
        self.rho = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.classifier = nn.Linear(hidden, n_classes)

    def forward(self, bag):
        h = self.embed(bag)
        if self.transformer is not None:
            h = self.transformer(h[None])[0]
        a = torch.softmax(self.attention(h)[:, 0], dim=0)
        return self.classifier(self.rho(a @ h)), {
            EVIDENCE: positive_evidence(self.classifier(self.rho(h))),
            ATTENTION: a,
        }


class Standardized(MILModel):
    """Any MIL model behind a per-bag batch correction (mil.correction.correct_bag) and per-dimension feature
    standardisation with training-set statistics (kept as buffers, so checkpoints carry them)."""

    def __init__(self, inner: MILModel, mean: torch.Tensor, std: torch.Tensor, correction: str = NO_CORRECTION):
        super().__init__()
        self.inner, self.correction = inner, correction
        self.register_buffer("mean", mean.float())
        self.register_buffer("std", std.float().clamp_min(1e-6))

    def standardised(self, bag):
        return (correct_bag(bag, self.correction) - self.mean) / self.std

    def forward(self, bag):
        return self.inner(self.standardised(bag))

    def forward_with_aux(self, bag, label):
        return self.inner.forward_with_aux(self.standardised(bag), label)


MIL_MODELS = {
    "mean_pool": MeanPool,
    "max_pool": MaxPool,
    "topk_pool": TopKPool,
    "abmil": ABMIL,
    "clam_sb": CLAMSingleBranch,
    "transmil": TransMIL,
    "hipt": HIPTGlobal,
}
ATTENTION_KINDS = {
    "mean_pool": None,
    "max_pool": None,
    "topk_pool": None,
    "abmil": "gated attention",
    "clam_sb": "gated attention",
    "transmil": "class-token attention",
    "hipt": "region attention",
}
EVIDENCE_KIND = "tile evidence (positive-class logit margin)"
OUTPUT_KINDS = {  # the evidence of a single-output head, per task type (workflow.tasks)
    "survival": "tile risk (the head's log hazard of the tile)",
    "regression": "tile value (the head's output on the tile)",
}


def score_kinds(name: str, kind: str = "classification") -> dict[str, str]:
    """What a model's per-tile scores are (recorded in tile-score files and figure legends) for a task type."""
    kinds = {EVIDENCE: OUTPUT_KINDS.get(kind, EVIDENCE_KIND)}
    if ATTENTION_KINDS[name]:
        kinds[ATTENTION] = ATTENTION_KINDS[name]
    return kinds


def build_mil_model(
    name: str,
    in_dim: int,
    n_classes: int,
    mean: torch.Tensor | None = None,
    std: torch.Tensor | None = None,
    correction: str = NO_CORRECTION,
    **kwargs,
) -> Standardized:
    """Registry model for `in_dim` features behind a per-bag batch `correction` and feature standardisation
    (identity until statistics, of the corrected features, are given or loaded)."""
    if name not in MIL_MODELS:
        raise ValueError(f"unknown MIL model '{name}'; choose one of {sorted(MIL_MODELS)}")
    if correction not in BATCH_CORRECTIONS:
        raise ValueError(f"unknown batch correction '{correction}'; choose one of {BATCH_CORRECTIONS}")
    dim = corrected_dim(correction, in_dim)
    mean = torch.zeros(dim) if mean is None else mean
    std = torch.ones(dim) if std is None else std
    return Standardized(MIL_MODELS[name](dim, n_classes, **kwargs), mean, std, correction)

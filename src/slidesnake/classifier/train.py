"""Transfer learning of the tile classifier: the head on a frozen backbone first (trained on the backbone's
features of the patches, computed once), then the whole network at a lower learning rate with flips,
90-degree rotations and HED jitter; class weighting, and early stopping on the validation loss in each phase."""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, precision_recall_fscore_support
from torch.utils.data import DataLoader, Dataset

from slidesnake.classifier.model import TileClassifierNet
from slidesnake.classifier.params import ClassifierParams
from slidesnake.classifier.patches import PatchSet, read_image
from slidesnake.core.early_stopping import EarlyStopping
from slidesnake.core.logs import progress
from slidesnake.core.partitions import TRAIN, VALIDATION
from slidesnake.features.encoders import EncoderSpec
from slidesnake.features.extract import preprocess
from slidesnake.stain.augment import hed_jitter

log = logging.getLogger(__name__)


class PatchDataset(Dataset):
    """uint8 3 x s x s patches and their labels, read from disk when asked for (memory stays bounded)."""

    def __init__(self, patches: PatchSet, rows: np.ndarray, size: int):
        self.patches, self.rows, self.size = patches, rows, size

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):
        row = self.rows[index]
        image = read_image(self.patches.paths[row], self.size)
        return torch.from_numpy(image).permute(2, 0, 1).contiguous(), int(self.patches.labels[row])


def augment(batch: torch.Tensor, params: ClassifierParams, generator: torch.Generator) -> torch.Tensor:
    """Random flips and 90-degree rotations (per batch) and HED jitter (per patch); float 0-255."""
    if torch.rand(1, generator=generator) < 0.5:
        batch = batch.flip(-1)
    if torch.rand(1, generator=generator) < 0.5:
        batch = batch.flip(-2)
    batch = torch.rot90(batch, int(torch.randint(4, (1,), generator=generator)), dims=(-2, -1))
    return hed_jitter(batch, params.hed_jitter, generator) if params.hed_jitter > 0 else batch.float()


def class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    return torch.tensor(
        np.where(counts > 0, len(labels) / (n_classes * np.maximum(counts, 1)), 1.0), dtype=torch.float32
    )


def predict_patches(
    net: TileClassifierNet, spec: EncoderSpec, loader: DataLoader, device
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities N x C, labels N)."""
    net.eval()
    probabilities, labels = [], []
    with torch.inference_mode():
        for batch, y in loader:
            probabilities.append(torch.softmax(net(preprocess(batch.to(device), spec)), 1).cpu().numpy())
            labels.append(y.numpy())
    return np.concatenate(probabilities), np.concatenate(labels)


def validation_loss(
    net: TileClassifierNet, spec: EncoderSpec, val: DataLoader, weights: torch.Tensor, device, details: bool = False
):
    probabilities, labels = predict_patches(net, spec, val, device)
    loss = float(
        F.cross_entropy(
            torch.log(torch.from_numpy(probabilities).clamp_min(1e-8)), torch.from_numpy(labels), weight=weights.cpu()
        )
    )
    return (loss, probabilities, labels) if details else loss


def phase(
    net: TileClassifierNet,
    spec: EncoderSpec,
    train: DataLoader,
    val: DataLoader,
    epochs: int,
    lr: float,
    params: ClassifierParams,
    weights: torch.Tensor,
    device,
    name: str,
    history: dict,
    generator: torch.Generator,
) -> None:
    """Train the whole network on augmented patches (batch-norm statistics frozen: small batches would
    replace them); keep the epoch with the lowest validation loss, the starting point included."""
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=params.weight_decay)
    stopping = EarlyStopping(net, params.patience, validation_loss(net, spec, val, weights, device), keep_current=True)
    for _ in progress(range(epochs), f"classifier {name}", "epoch"):
        net.train()
        for module in net.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()
        losses = []
        for batch, y in train:
            x = augment(batch.to(device), params, generator) if params.augment else batch.to(device).float()
            loss = F.cross_entropy(net(preprocess(x, spec)), y.to(device), weight=weights)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        val_loss, probabilities, labels = validation_loss(net, spec, val, weights, device, details=True)
        history["phase"].append(name)
        history["train_loss"].append(float(np.mean(losses)))
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(float((probabilities.argmax(1) == labels).mean()))
        if stopping.check(val_loss):
            break
    stopping.restore()


def backbone_features(
    net: TileClassifierNet, spec: EncoderSpec, loader: DataLoader, device
) -> tuple[torch.Tensor, torch.Tensor]:
    net.backbone.eval()
    features, labels = [], []
    with torch.inference_mode():
        for batch, y in loader:
            features.append(net.backbone(preprocess(batch.to(device), spec)).float())
            labels.append(y.to(device))
    return torch.cat(features), torch.cat(labels)


def head_phase(
    net: TileClassifierNet,
    spec: EncoderSpec,
    loaders: dict,
    params: ClassifierParams,
    weights: torch.Tensor,
    device,
    history: dict,
    generator: torch.Generator,
) -> None:
    """The linear head on cached features of the frozen backbone; keeps the epoch with the lowest
    validation loss."""
    train_x, train_y = backbone_features(net, spec, loaders[TRAIN], device)
    val_x, val_y = backbone_features(net, spec, loaders[VALIDATION], device)
    net.mean.copy_(train_x.mean(0))
    net.std.copy_(train_x.std(0).clamp_min(1e-6))
    train_x, val_x = net.standardise(train_x), net.standardise(val_x)
    optimizer = torch.optim.AdamW(net.head.parameters(), lr=params.lr_head, weight_decay=params.weight_decay)
    stopping = EarlyStopping(net.head, params.patience, keep_current=True)
    for _ in range(params.head_epochs):
        order = torch.randperm(len(train_x), generator=generator).to(device)
        losses = []
        for start in range(0, len(order), params.batch_size):
            rows = order[start : start + params.batch_size]
            loss = F.cross_entropy(net.head(train_x[rows]), train_y[rows], weight=weights)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        with torch.inference_mode():
            logits = net.head(val_x)
            val_loss = float(F.cross_entropy(logits, val_y, weight=weights))
            accuracy = float((logits.argmax(1) == val_y).float().mean())
        for key, value in (
            ("phase", "head"),
            ("train_loss", float(np.mean(losses))),
            ("val_loss", val_loss),
            ("val_accuracy", accuracy),
        ):
            history[key].append(value)
        if stopping.check(val_loss):
            break
    stopping.restore()


def train_tile_classifier(
    net: TileClassifierNet,
    spec: EncoderSpec,
    patches: PatchSet,
    splits: np.ndarray,
    params: ClassifierParams,
    device,
    workers: int = 0,
) -> dict:
    """Head on the frozen backbone (head_epochs), then end to end (finetune_epochs); returns the history."""
    torch.manual_seed(params.seed)
    generator = torch.Generator().manual_seed(params.seed)
    loaders = {
        split: DataLoader(
            PatchDataset(patches, np.flatnonzero(splits == split), spec.input_size),
            batch_size=params.batch_size,
            shuffle=split == TRAIN,
            num_workers=workers,
            generator=torch.Generator().manual_seed(params.seed),
        )
        for split in (TRAIN, VALIDATION)
    }
    train_labels = patches.labels[splits == TRAIN]
    weights = (
        class_weights(train_labels, len(patches.classes))
        if params.class_weighting
        else torch.ones(len(patches.classes))
    ).to(device)
    history = {"phase": [], "train_loss": [], "val_loss": [], "val_accuracy": []}
    net.to(device)
    head_phase(
        net,
        spec,
        {k: DataLoader(v.dataset, batch_size=params.batch_size, num_workers=workers) for k, v in loaders.items()},
        params,
        weights,
        device,
        history,
        generator,
    )
    if params.finetune_epochs:
        phase(
            net,
            spec,
            loaders[TRAIN],
            loaders[VALIDATION],
            params.finetune_epochs,
            params.lr_finetune,
            params,
            weights,
            device,
            "finetune",
            history,
            generator,
        )
    return history


def classification_report(probabilities: np.ndarray, labels: np.ndarray, classes: list[str], top_k: int) -> dict:
    """Accuracy, top-k accuracy, balanced accuracy, per-class precision / recall / F1, confusion matrix."""
    predicted = probabilities.argmax(1)
    top = np.argsort(probabilities, 1)[:, ::-1][:, :top_k]
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=range(len(classes)), zero_division=0
    )
    return {
        "n": int(len(labels)),
        "accuracy": float((predicted == labels).mean()),
        f"top{top_k}_accuracy": float((top == labels[:, None]).any(1).mean()),
        "balanced_accuracy": float(balanced_accuracy_score(labels, predicted)),
        "per_class": {
            c: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, c in enumerate(classes)
        },
        "confusion_matrix": confusion_matrix(labels, predicted, labels=range(len(classes))).tolist(),
        "classes": list(classes),
    }

"""Labelled patch sets in the image-folder layout: one folder per class (the layout of NCT-CRC-HE-100K),
optionally under split folders (train / val / test); every bad input is an error naming the folder or file."""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from slidesnake.core.errors import SlidesnakeError
from slidesnake.core.partitions import TEST, TRAIN, VALIDATION

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
SPLIT_NAMES = {
    "train": TRAIN,
    "training": TRAIN,
    "val": VALIDATION,
    "validation": VALIDATION,
    "test": TEST,
    "testing": TEST,
}


class PatchSetError(SlidesnakeError):
    """A patch set that cannot be used: names the folder or file."""


@dataclass
class PatchSet:
    root: Path
    classes: list[str]
    paths: list[Path]
    labels: np.ndarray  # class index per patch
    splits: np.ndarray  # "train" / "val" / "test", or "" where the set has no split folders

    def __len__(self) -> int:
        return len(self.paths)


def images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def class_folders(folder: Path) -> dict[str, list[Path]]:
    """Class name -> images; a class folder with no images is an error naming it."""
    classes = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        images = images_in(sub)
        if not images:
            raise PatchSetError(f"class folder {sub} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        classes[sub.name] = images
    return classes


def read_patch_set(root: str | Path) -> PatchSet:
    """The patch set under `root`: root/<class>/<image> or root/<split>/<class>/<image>."""
    root = Path(root)
    if not root.is_dir():
        raise PatchSetError(f"patch set folder not found: {root}")
    subfolders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    split_folders = {p: SPLIT_NAMES[p.name.lower()] for p in subfolders if p.name.lower() in SPLIT_NAMES}
    if split_folders and len(split_folders) == len(subfolders):
        per_split = {split: class_folders(folder) for folder, split in split_folders.items()}
        classes = sorted(set().union(*per_split.values()))
        for folder, split in split_folders.items():
            missing = sorted(set(classes) - set(per_split[split]))
            if split == TRAIN and missing:
                raise PatchSetError(f"{folder} lacks class folder(s) {missing} that other splits have")
        items = [
            (path, name, split) for split, found in per_split.items() for name, paths in found.items() for path in paths
        ]
    else:
        found = class_folders(root)
        classes = sorted(found)
        items = [(path, name, "") for name, paths in found.items() for path in paths]
    if len(classes) < 2:
        raise PatchSetError(f"{root} holds {len(classes)} class folder(s) ({classes}); a classifier needs two or more")
    return PatchSet(
        root,
        classes,
        [p for p, _, _ in items],
        np.array([classes.index(c) for _, c, _ in items]),
        np.array([s for _, _, s in items], dtype=object),
    )


def assign_splits(patches: PatchSet, validation_share: float, test_share: float, seed: int) -> np.ndarray:
    """The patch set's own splits where it has them; otherwise (and for a missing validation split) a
    stratified random split of the training patches."""
    splits = patches.splits.copy()
    rng = np.random.default_rng(seed)
    unassigned = splits == ""
    shares = [(VALIDATION, validation_share)] + ([(TEST, test_share)] if unassigned.all() else [])
    if not unassigned.any():
        if (splits == VALIDATION).any():
            return splits
        unassigned = splits == TRAIN
        shares = [(VALIDATION, validation_share)]
    for label in np.unique(patches.labels):
        members = np.flatnonzero(unassigned & (patches.labels == label))
        members = members[rng.permutation(len(members))]
        start = 0
        for split, share in shares:
            count = int(round(share * len(members)))
            splits[members[start : start + count]] = split
            start += count
        splits[members[start:]] = TRAIN
    return splits


def read_image(path: Path, size: int) -> np.ndarray:
    """RGB uint8 patch resized to size x size (patch sets mix sizes); unreadable files are named."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise PatchSetError(f"cannot read image {path}")
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.shape[:2] != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image


def unpack(archive: Path, dest: Path) -> Path:
    """Extract a .zip / .tar(.gz) patch set into `dest` (replaced) and return the folder holding the classes
    (the archive's single top folder, when it has one)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as handle:
            handle.extractall(dest)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as handle:
            handle.extractall(dest, filter="data")
    else:
        raise PatchSetError(f"{archive} is neither a zip nor a tar archive")
    entries = [p for p in dest.iterdir() if not p.name.startswith(".")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest

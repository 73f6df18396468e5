"""Excluded slides: the one owner of the status values and of the names under which a slide's exclusion is
recorded (keys of the mask info JSON, attributes of the tiles / regions / features / tile-class HDF5 files,
columns of the cohort manifests and of the QC table `results/qc/{cohort}.tsv`).

A slide that cannot be prepared (an unreadable file, no mpp, no tissue, too few tiles) or that its shard job
could not process is excluded with a named stage and reason instead of failing its job (qc.strict: false, the
default): every job still writes its declared outputs, marked excluded, so that the other slides go on, and
cohort-level jobs read only the slides whose status is OK."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from slidesnake.core.atomic import atomic_output

log = logging.getLogger(__name__)

STATUS = "status"
OK, EXCLUDED = "ok", "excluded"
MASK_STAGE, TILING_STAGE = "tissue_mask", "tile_slide"  # stages of the preparation jobs


@dataclass(frozen=True)
class Exclusion:
    """Why a slide was left out: the job stage, the reason (the named error's message) and the user's file."""

    stage: str
    reason: str
    source: str  # the sample sheet's source of the slide (the user's file or URL), not the workflow's copy

    def attrs(self) -> dict:
        """The exclusion as flat key -> value (status included) for JSON keys, HDF5 attributes, table cells."""
        return {STATUS: EXCLUDED, **asdict(self)}

    @classmethod
    def from_attrs(cls, values) -> "Exclusion | None":
        """The exclusion recorded in `values` (JSON object, HDF5 attributes, table row); None for an OK slide."""
        if values.get(STATUS) != EXCLUDED:
            return None
        return cls(**{name: str(values.get(name) or "") for name in NAMES})

    def warn(self, slide_id: str) -> None:
        log.warning("slide '%s' excluded at %s: %s (file %s)", slide_id, self.stage, self.reason, self.source)


NAMES = tuple(f.name for f in fields(Exclusion))
STAGE, REASON, SOURCE = NAMES
COLUMNS = (STATUS, *NAMES)  # the manifest and QC table columns of a slide's status


def status_cells(exclusion: Exclusion | None) -> dict:
    """The status columns of a table row: OK with empty cells, or the exclusion."""
    return exclusion.attrs() if exclusion else {STATUS: OK, **dict.fromkeys(NAMES, "")}


def h5_exclusion(path: str | Path) -> Exclusion | None:
    """The exclusion recorded in an HDF5 file's attributes (tiles, regions, features, tile classes), or None."""
    import h5py  # here: the workflow's input functions import this module while the DAG is built

    with h5py.File(path, "r") as h5:
        return Exclusion.from_attrs({k: v.decode() if isinstance(v, bytes) else v for k, v in h5.attrs.items()})


def write_excluded_h5(path: str | Path, exclusion: Exclusion, datasets: dict, attrs: dict) -> None:
    """A valid, empty HDF5 output of an excluded slide (a shard's collect job): `datasets` (name -> array with
    0 rows), `attrs` and the exclusion as file attributes. Consumers skip such a file by its status."""
    import h5py

    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        for name, values in datasets.items():
            h5.create_dataset(name, data=values)
        for key, value in {**attrs, **exclusion.attrs()}.items():
            h5.attrs[key] = value

"""Rule collect_features: one slide's features file, put in place from its shard (a hard link, so no copy),
or that slide's failure, named with the error its shard recorded. Runs inside Snakemake (no process start)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from slidesnake.core.atomic import atomic_output
from slidesnake.core.errors import SlideError
from slidesnake.io.shard_table import FAILED, read_shard_table


def run(shard_table: Path, slide_id: str, out: Path) -> None:
    """Link the shard's features file of `slide_id` to `out`; a slide the shard could not encode fails here."""
    row = read_shard_table(shard_table).get(slide_id)
    if row is None:
        raise SlideError(slide_id, f"not in its feature shard {shard_table}")
    if row["status"] == FAILED:
        raise SlideError(slide_id, f"feature extraction failed: {row['error']}")
    source = Path(row["features"])
    if not source.exists():
        raise SlideError(slide_id, f"the shard's features file {source} is gone; rerun its shard with "
                                   f"--forcerun extract_features")
    with atomic_output(out) as tmp:
        try:
            os.link(source, tmp)
        except OSError:  # another file system
            shutil.copyfile(source, tmp)

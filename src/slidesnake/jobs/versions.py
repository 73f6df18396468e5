"""Rule versions: the software stack of this run (package versions, git commit, code hash)."""

from __future__ import annotations

from pathlib import Path

from slidesnake.core.atomic import atomic_output
from slidesnake.core.versions import software_versions


def run(workflow_dir: Path, out: Path) -> None:
    """Write component / version rows as TSV."""
    rows = software_versions(workflow_dir)
    with atomic_output(out) as tmp:
        tmp.write_text("component\tversion\n" + "".join(f"{k}\t{v}\n" for k, v in rows))

"""Write the software stack of this run (package versions, git commit, code hash)."""
import workflow_package  # noqa: F401  (puts src/ on sys.path)
from pathlib import Path

from slidesnake.atomic import atomic_output
from slidesnake.logs import job_logging
from slidesnake.versions import software_versions

with job_logging(snakemake.log[0]):
    rows = software_versions(Path(snakemake.scriptdir).parent)
    with atomic_output(snakemake.output[0]) as tmp:
        tmp.write_text("component\tversion\n" + "".join(f"{k}\t{v}\n" for k, v in rows))

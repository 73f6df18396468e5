"""Give each GPU job on one machine its own GPU.

With `--resources gpu=4` Snakemake runs four GPU jobs at once but does not say which GPU is whose, so all
would use the first. A job claims a free GPU by locking one of a set of lock files (flock: released when the
process ends, crash included) and sees only that GPU through CUDA_VISIBLE_DEVICES. Where a scheduler has
already assigned GPUs (SLURM sets SLURM_JOB_ID and CUDA_VISIBLE_DEVICES) or the user pinned them, nothing is
changed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)
LOCK_DIR = Path(tempfile.gettempdir()) / f"slidesnake-gpus-{os.getuid()}"
POLL_SECONDS = 2.0


def visible_gpu_count() -> int:
    """GPUs on this machine, from nvidia-smi (asking CUDA itself would fix the visible devices too early)."""
    binary = shutil.which("nvidia-smi")
    if not binary:
        return 0
    try:
        out = subprocess.run([binary, "--list-gpus"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))


@contextlib.contextmanager
def claim_gpu(count=visible_gpu_count, lock_dir: Path = LOCK_DIR, environ=os.environ, wait_seconds: float = 3600):
    """Set CUDA_VISIBLE_DEVICES to a GPU no other job of this machine holds, for the duration of the block;
    yields its index, or None when nothing is to be assigned (no GPU, a scheduler's or the user's choice)."""
    if "SLURM_JOB_ID" in environ or environ.get("CUDA_VISIBLE_DEVICES"):
        yield None
        return
    n = count()
    if n <= 0:
        yield None
        return
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    while True:
        for index in range(n):
            handle = open(lock_dir / f"gpu{index}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            environ["CUDA_VISIBLE_DEVICES"] = str(index)
            log.info("using GPU %d of %d", index, n)
            try:
                yield index
            finally:
                environ.pop("CUDA_VISIBLE_DEVICES", None)
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"no free GPU among {n} after {wait_seconds:.0f} s (locks in {lock_dir})")
        time.sleep(POLL_SECONDS)

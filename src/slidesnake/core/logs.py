"""Logging for workflow scripts: one log file per job, clean messages for errors a user can fix, progress of
long loops in the log file (and as a bar on a terminal)."""

from __future__ import annotations

import contextlib
import errno
import logging
import sys
import time
from collections.abc import Iterable, Iterator, Sized
from typing import TypeVar

from slidesnake.core.errors import SlidesnakeError

T = TypeVar("T")

STORAGE_ERRORS = {
    errno.ENOSPC: "Free space on that file system (or point results/ elsewhere) and rerun.",
    errno.EDQUOT: "The disk quota is exhausted: free space or ask for more quota, then rerun.",
    errno.EACCES: "Check the permissions of the results folder, then rerun.",
    errno.EROFS: "The file system is read-only: run the workflow from a writable folder.",
}


def configure(log_path: str | None = None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=logging.INFO, handlers=handlers, force=True, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@contextlib.contextmanager
def job_logging(log_path: str | None):
    """Log to the job's log file; a SlidesnakeError ends the job with its message and no traceback."""
    configure(log_path)
    log = logging.getLogger("slidesnake")
    try:
        yield log
    except SlidesnakeError as error:
        log.error("%s", error)
        sys.exit(1)
    except OSError as error:
        if error.errno not in STORAGE_ERRORS:
            log.exception("job failed")
            raise
        log.error("cannot write %s: %s. %s", error.filename or "an output", error.strerror, STORAGE_ERRORS[error.errno])
        sys.exit(1)
    except Exception:
        log.exception("job failed")
        raise


PROGRESS_EVERY_S = 30.0  # seconds between progress lines in a job's log


def progress(
    items: Iterable[T],
    desc: str,
    unit: str = "item",
    total: int | None = None,
    every_s: float = PROGRESS_EVERY_S,
) -> Iterator[T]:
    """The items, reported as they pass: a tqdm bar where a person watches (stderr is a terminal) and, for the
    job's log file, a line every `every_s` seconds and one at the end (count, share, rate, time left)."""
    from tqdm import tqdm

    log = logging.getLogger("slidesnake.progress")
    if total is None and isinstance(items, Sized):
        total = len(items)
    start = last = time.monotonic()
    done = 0

    def report(final: bool) -> None:
        elapsed = max(time.monotonic() - start, 1e-9)
        rate = done / elapsed
        of = f"/{total} ({100 * done / total:.0f}%)" if total else ""
        left = f", {(total - done) / rate:.0f} s left" if total and rate > 0 and not final else ""
        log.info("%s: %d%s %s in %.0f s, %.2f %s/s%s", desc, done, of, unit, elapsed, rate, unit, left)

    with tqdm(total=total, desc=desc, unit=unit, disable=not sys.stderr.isatty(), mininterval=1, leave=False) as bar:
        for item in items:
            yield item
            done += 1
            bar.update()
            if time.monotonic() - last >= every_s:
                last = time.monotonic()
                report(final=False)
    report(final=True)

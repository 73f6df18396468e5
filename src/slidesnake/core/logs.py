"""Logging for workflow scripts: one log file per job, clean messages for errors a user can fix."""

from __future__ import annotations

import contextlib
import errno
import logging
import sys

from slidesnake.core.errors import SlidesnakeError

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

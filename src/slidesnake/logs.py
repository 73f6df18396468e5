"""Logging for workflow scripts: one log file per job, clean messages for errors a user can fix."""

from __future__ import annotations

import contextlib
import logging
import sys

from .errors import SlidesnakeError


def configure(log_path: str | None = None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


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
    except Exception:
        log.exception("job failed")
        raise

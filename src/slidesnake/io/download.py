"""Fetch slides: http(s) with resume, retries and md5 check; local paths and file:// URLs are linked."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from slidesnake.core.atomic import atomic_output
from slidesnake.core.errors import SlidesnakeError

log = logging.getLogger(__name__)
CHUNK_BYTES = 1 << 20
RETRYABLE = (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout, TimeoutError)


class DownloadError(SlidesnakeError):
    pass


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK_BYTES * 8):
            digest.update(block)
    return digest.hexdigest()


def check_md5(path: Path, expected: str | None, name: str) -> None:
    if not expected:
        return
    actual = file_md5(path)
    if actual != expected.lower():
        raise DownloadError(f"{name}: md5 mismatch: expected {expected.lower()}, got {actual} ({path})")


def link_local(source: Path, dest: Path) -> None:
    """Symlink `dest` to a local file (and MIRAX's companion folder next to it)."""
    source = source.resolve()
    with atomic_output(dest) as tmp:
        os.symlink(source, tmp)
    companion = source.with_suffix("")
    if source.suffix.lower() == ".mrxs" and companion.is_dir():
        folder = dest.with_suffix("")
        if folder.is_symlink() or folder.exists():
            folder.unlink()
        os.symlink(companion, folder)


def _stream(url: str, partial: Path, timeout: float, name: str) -> bool:
    """One attempt: append to `partial` from where it stops. True when the file is complete."""
    offset = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # nothing left past offset: already complete
            return True
        if error.code < 500 and error.code not in (408, 429):
            raise DownloadError(f"{name}: HTTP {error.code} {error.reason} for {url}") from error
        raise
    with response:
        resumed = offset and response.status == 206
        mode = "ab" if resumed else "wb"
        offset = offset if resumed else 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        received = offset
        with (
            open(partial, mode) as out,
            tqdm(total=total, initial=offset, unit="B", unit_scale=True, desc=name, mininterval=1, disable=None) as bar,
        ):
            while block := response.read(CHUNK_BYTES):
                out.write(block)
                received += len(block)
                bar.update(len(block))
    if total is not None and received < total:
        raise ConnectionError(f"connection closed after {received} of {total} bytes")
    return True


def download_url(
    url: str,
    dest: Path,
    md5: str | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
    name: str | None = None,
) -> None:
    """Download to `dest` via a partial file that survives failed attempts (resumed with Range)."""
    name = name or dest.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.download")
    for attempt in range(retries + 1):
        try:
            _stream(url, partial, timeout, name)
            break
        except RETRYABLE as error:
            if attempt == retries:
                raise DownloadError(
                    f"{name}: download of {url} failed after {retries + 1} attempts: {error}"
                ) from error
            wait = backoff * 2**attempt
            log.warning("%s: attempt %d failed (%s); retrying in %.1f s", name, attempt + 1, error, wait)
            time.sleep(wait)
    try:
        check_md5(partial, md5, name)
    except DownloadError:
        partial.unlink()
        raise
    os.replace(partial, dest)


def fetch(
    source: str, kind: str, dest: Path, md5: str | None = None, name: str | None = None, **download_options
) -> None:
    """Bring one sheet `source` to `dest`: link local files, download URLs."""
    name = name or dest.stem
    if kind == "path":
        check_md5(Path(source), md5, name)
        link_local(Path(source), dest)
    else:
        download_url(source, dest, md5=md5, name=name, **download_options)

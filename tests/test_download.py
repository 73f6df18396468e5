"""Downloads against a real HTTP server on 127.0.0.1: resume, md5, retries, links."""

import os

import pytest

from http_server import serve
from slidesnake.io.download import DownloadError, download_url, fetch, file_md5

CMU_MD5 = "1ad6e35c9d17e4d85fb7e3143b328efe"


def test_download_with_md5(real_slides, tmp_path):
    dest = tmp_path / "out" / "cmu.svs"
    with serve(real_slides["cmu"].parent) as server:
        download_url(f"{server.url}/{real_slides['cmu'].name}", dest, md5=CMU_MD5, backoff=0)
    assert file_md5(dest) == CMU_MD5
    assert not list(dest.parent.glob(".*"))  # no partial file left


def test_resume_after_cut_connection(real_slides, tmp_path):
    dest = tmp_path / "cmu.svs"
    half = real_slides["cmu"].stat().st_size // 2
    with serve(real_slides["cmu"].parent, cut_first_after=half) as server:
        download_url(f"{server.url}/{real_slides['cmu'].name}", dest, md5=CMU_MD5, backoff=0, retries=3)
        requests = list(server.requests)
    assert file_md5(dest) == CMU_MD5
    assert len(requests) == 2
    assert requests[0]["range"] is None
    assert requests[1]["range"] == f"bytes={half}-"  # resumed, not restarted


def test_md5_mismatch_names_both_sums_and_removes_file(real_slides, tmp_path):
    dest = tmp_path / "cmu.svs"
    wrong = "0" * 32
    with serve(real_slides["cmu"].parent) as server:
        with pytest.raises(DownloadError) as info:
            download_url(f"{server.url}/{real_slides['cmu'].name}", dest, md5=wrong, backoff=0)
    message = str(info.value)
    assert wrong in message and CMU_MD5 in message
    assert not dest.exists() and not list(tmp_path.iterdir())


def test_missing_file_fails_without_retrying(tmp_path):
    with serve(tmp_path) as server:
        with pytest.raises(DownloadError, match="HTTP 404"):
            download_url(f"{server.url}/nothing.svs", tmp_path / "x.svs", retries=3, backoff=0)
        assert len(server.requests) == 1


def test_unreachable_server_retries_then_fails(tmp_path):
    with serve(tmp_path) as server:
        url = f"{server.url}/x.svs"
    with pytest.raises(DownloadError, match="after 3 attempts"):
        download_url(url, tmp_path / "x.svs", retries=2, backoff=0, timeout=2)


def test_local_paths_are_linked(real_slides, tmp_path):
    dest = tmp_path / "slides" / "cmu.svs"
    fetch(str(real_slides["cmu"]), "path", dest, md5=CMU_MD5)
    assert dest.is_symlink() and os.readlink(dest) == str(real_slides["cmu"].resolve())


def test_local_md5_mismatch(real_slides, tmp_path):
    with pytest.raises(DownloadError, match="md5 mismatch"):
        fetch(str(real_slides["cmu"]), "path", tmp_path / "cmu.svs", md5="f" * 32)
    assert not (tmp_path / "cmu.svs").exists()

"""Failure behaviour: storage errors give one clear line, killed jobs leave nothing that looks finished."""

import errno
import os
import signal
import subprocess
import time

import pytest

from helpers import REPO, config_arg, snakemake_bin
from slidesnake.core.atomic import atomic_output
from slidesnake.core.logs import job_logging, progress


@pytest.mark.parametrize(
    "code,advice", [(errno.ENOSPC, "Free space"), (errno.EACCES, "permissions"), (errno.EROFS, "read-only")]
)
def test_storage_errors_are_clear(tmp_path, code, advice):
    log = tmp_path / "job.log"
    with pytest.raises(SystemExit) as info:
        with job_logging(str(log)):
            raise OSError(code, os.strerror(code), "results/tiles/a.h5")
    assert info.value.code == 1
    text = log.read_text()
    assert f"cannot write results/tiles/a.h5: {os.strerror(code)}" in text and advice in text
    assert "Traceback" not in text


def test_other_errors_keep_their_traceback(tmp_path):
    log = tmp_path / "job.log"
    with pytest.raises(ZeroDivisionError):
        with job_logging(str(log)):
            _ = 1 / 0
    assert "Traceback" in log.read_text()


def test_long_loops_report_progress_in_the_job_log(tmp_path):
    log = tmp_path / "job.log"
    with job_logging(str(log)):
        assert list(progress(range(4), "slide_a resnet50_trunc", "batch", every_s=0)) == [0, 1, 2, 3]
        assert list(progress(iter("ab"), "stream", "tile")) == ["a", "b"]
    lines = [line for line in log.read_text().splitlines() if "slidesnake.progress" in line]
    assert "slide_a resnet50_trunc: 1/4 (25%) batch in" in lines[0] and "s left" in lines[0]
    assert "slide_a resnet50_trunc: 4/4 (100%) batch" in lines[4] and "s left" not in lines[4]
    assert "stream: 2 tile in" in lines[-1]


def test_stale_partial_files_are_removed(tmp_path):
    stale = tmp_path / ".out.partial-12345.h5"
    stale.write_text("left by a killed job")
    with atomic_output(tmp_path / "out.h5") as tmp:
        tmp.write_text("complete")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5"]


@pytest.mark.workflow
def test_killed_job_leaves_no_finished_output_and_rerun_completes(tmp_path):
    workdir = tmp_path
    target = workdir / "resources/demo/demo_000.tiff"
    command = [
        snakemake_bin(),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--workflow-profile",
        "none",
        "--cores",
        "1",
        config_arg("killed_job"),
        str(target.relative_to(workdir)),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(target.parent.glob(".demo_000.partial-*")):
        time.sleep(0.2)
    assert list(target.parent.glob(".demo_000.partial-*")), "the job never started writing"
    time.sleep(1.0)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not target.exists()  # nothing that looks finished
    subprocess.run(command + ["--unlock"], capture_output=True, check=True)  # the killed run's lock
    rerun = subprocess.run(command + ["--rerun-incomplete"], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert target.exists() and not list(target.parent.glob(".demo_000.partial-*"))

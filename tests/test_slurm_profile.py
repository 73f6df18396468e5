"""profiles/slurm: the arithmetic its comments state, and its accounting-free settings against fake SLURM commands
(a real cluster has accounting; tests/test_slurm_cluster.py runs the profile on one)."""

import json
import os
import re
import stat
import sys
from pathlib import Path

import pytest
import yaml

from helpers import (
    FETCH_ANNOTATION_URL,
    FETCH_SLIDE_URL,
    SLURM_PROFILE,
    config_arg,
    group_request,
    run_snakemake,
)

pytestmark = pytest.mark.workflow
pytest.importorskip("snakemake_executor_plugin_slurm")

SLURM_COMMANDS = ("sbatch", "sacct", "squeue", "scancel", "srun", "sinfo", "sacctmgr", "sshare", "scontrol")


def test_profile_states_its_group_arithmetic():
    """The numbers in the profile's comments are what the arithmetic gives for its own cores and G."""
    profile = yaml.safe_load(SLURM_PROFILE.joinpath("config.yaml").read_text())
    text = SLURM_PROFILE.joinpath("config.yaml").read_text()
    cores, slides = profile["cores"], profile["group-components"]["slide_prep"]
    cpus, memory, links = group_request(cores, slides, annotated=True)
    _, _, downloads = group_request(cores, slides, True, FETCH_SLIDE_URL, FETCH_ANNOTATION_URL)
    assert (cpus, memory, links, downloads) == (8, 16000, 30, 170)
    assert f"= {memory} MB" in text and f"= {links} min" in text and f"{downloads} min" in text
    assert f"min({cores}, 2 x {slides} fetches) = {cpus}" in text
    assert group_request(10**6, slides, True)[0] == 2 * slides  # uncapped: the sum, 16 CPUs
    # no fixed CPU count for GPU rules: their --cpus-per-task is their threads (num_workers + 1)
    assert all("cpus_per_task" not in resources for resources in profile["set-resources"].values())
    # only keys this Snakemake and plugin accept: the commented accounting-free settings are real options
    for key in ("slurm-status-command", "slurm-no-account"):
        assert re.search(rf"^# {key}: ", text, re.M)


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    bin_dir, state = tmp_path / "fake_bin", tmp_path / "slurm_state"
    bin_dir.mkdir()
    state.mkdir()
    source = (Path(__file__).parent / "fake_slurm.py").read_text()
    script = bin_dir / "fake_slurm.py"
    script.write_text(f"#!{sys.executable}\n" + source)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    for name in SLURM_COMMANDS:
        (bin_dir / name).symlink_to(script)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_DIR", str(state))
    return state


def submitted(state: Path) -> dict[str, list[dict]]:
    """rule (or group_slide_prep) -> the sbatch calls the fake recorded."""
    by_rule = {}
    for job in (json.loads(line) for line in (state / "jobs.jsonl").read_text().splitlines()):
        # the plugin's comment names the rule (rule_<name>_wildcards_<...>) or the group and its rules
        rule = job["options"]["--comment"].removeprefix("rule_").split("_wildcards_")[0]
        rule = "group_slide_prep" if rule.startswith("slide_prep_") else rule
        by_rule.setdefault(rule, []).append(job)
    return by_rule


def test_slurm_profile_without_accounting(tmp_path, fake_slurm, monkeypatch):
    """The profile's accounting-free settings: job states from squeue, no account, while sacct, sacctmgr and
    sshare fail as on a cluster without accounting storage."""
    monkeypatch.setenv("FAKE_SLURM_NO_ACCOUNTING", "1")
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = run_snakemake(
        workdir,
        config_arg("slurm"),
        "tiles",
        "--workflow-profile",
        str(SLURM_PROFILE),
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--jobs",
        "4",
        "--slurm-status-command",
        "squeue",
        "--slurm-no-account",
        "--config",
        "demo={n_slides: 2, new_slides: 0}",  # 2 of the config's slides: the fake runs each job in turn
        profile=None,
    )
    by_rule = submitted(fake_slurm)
    assert set(by_rule) == {"demo_slide", "group_slide_prep"}, result.stderr[-3000:]
    assert all(job["state"] == "COMPLETED" for jobs in by_rule.values() for job in jobs)
    assert not any("-A" in job["options"] for jobs in by_rule.values() for job in jobs)
    for slide in ("demo_000", "demo_001"):
        assert (workdir / f"results/tiles/{slide}.h5").exists()

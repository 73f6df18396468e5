"""profiles/slurm through snakemake-executor-plugin-slurm against fake SLURM commands."""

import json
import os
import re
import shlex
import stat
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO, config_arg, run_snakemake

pytestmark = pytest.mark.workflow
pytest.importorskip("snakemake_executor_plugin_slurm")

SLURM_COMMANDS = ("sbatch", "sacct", "squeue", "scancel", "srun", "sinfo", "sacctmgr", "sshare", "scontrol")


PROFILE = REPO / "profiles" / "slurm"
# per-slide jobs of the slide_prep group: (mem_mb, runtime) from rules/download.smk, masks.smk, tiles.smk (the
# mask's 1000 + 0.5 x slide MB is 1000 for the small demo slides; a fetch of a link has 5 minutes)
FETCH_LINK, FETCH_SLIDE_URL, FETCH_ANNOTATION_URL = (500, 5), (500, 120), (500, 30)
MASK, TILES = (1000, 10), (2000, 10)


def group_request(cores: int, slides: int, annotated: bool, fetch_slide=FETCH_LINK, fetch_annotation=FETCH_LINK):
    """What Snakemake asks for a slide_prep group (the arithmetic of profiles/slurm/config.yaml): the stages
    (fetches, masks, tiles) one after another, each in layers of at most `cores` one-thread jobs (sorted by
    runtime); CPUs the widest layer, memory the largest layer's sum, runtime the sum of the layers' longest."""
    stages = [
        [fetch_slide] * slides + ([fetch_annotation] * slides if annotated else []),
        [MASK] * slides,
        [TILES] * slides,
    ]
    cpus = memory = runtime = 0
    for stage in stages:
        stage = sorted(stage, key=lambda job: -job[1])
        for start in range(0, len(stage), cores):
            layer = stage[start : start + cores]
            cpus, memory = max(cpus, len(layer)), max(memory, sum(mem for mem, _ in layer))
            runtime += max(minutes for _, minutes in layer)
    return cpus, memory, runtime


def test_profile_states_its_group_arithmetic():
    """The numbers in the profile's comments are what the arithmetic gives for its own cores and G."""
    profile = yaml.safe_load(PROFILE.joinpath("config.yaml").read_text())
    text = PROFILE.joinpath("config.yaml").read_text()
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


def test_slurm_profile_requests_gpus_only_for_gpu_rules(tmp_path, fake_slurm):
    workdir = tmp_path / "work"
    workdir.mkdir()
    cores, num_workers = 2, 1
    result = run_snakemake(
        workdir,
        config_arg("slurm"),
        "features",
        "--workflow-profile",
        str(PROFILE),
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--jobs",
        "4",
        "--config",
        f"features={{num_workers: {num_workers}}}",
        profile=None,
    )
    by_rule = submitted(fake_slurm)
    assert all(job["state"] == "COMPLETED" for jobs in by_rule.values() for job in jobs), result.stderr[-3000:]
    # both slides' fetch, mask and tiling jobs go out as one group submission; one feature job encodes both
    # slides (a shard); collect_features runs inside Snakemake, unsubmitted
    assert len(by_rule["extract_features"]) == 1 and len(by_rule["group_slide_prep"]) == 1
    assert not {"fetch_slide", "tissue_mask", "tile_slide", "collect_features"} & set(by_rule)
    # the group asks for what it runs at once (run_snakemake's --cores 2 is C): 2 CPUs, not the 4 of its 4
    # fetches (2 slides, 2 annotations); 2 x 2000 MB; 5 + 5 + 10 + 10 minutes of links, masks and tiles
    group = by_rule["group_slide_prep"][0]
    options = group["options"]
    request = (int(options["--cpus-per-task"]), int(options["--mem"]), int(options["-t"]))
    assert request == group_request(cores, 2, annotated=True) == (2, 4000, 30)
    inner = shlex.split(group["command"])
    assert inner[inner.index("--cores") + 1] == str(cores)  # and runs at most that many jobs at once
    for rule, jobs in by_rule.items():
        for job in jobs:
            options = job["options"]
            assert ("--gpus" in options) == (rule == "extract_features"), (rule, job["args"])
            assert options["--mem"] and options["-t"] and options["--cpus-per-task"]
    features = by_rule["extract_features"][0]["options"]
    assert features["--gpus"] == "1"  # a count: any node with a gpu GRES
    assert features["--cpus-per-task"] == str(num_workers + 1)  # its DataLoader workers + main process
    for slide in ("demo_000", "demo_001"):
        assert (workdir / f"results/features/resnet18/{slide}.h5").exists()


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
        str(PROFILE),
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--jobs",
        "4",
        "--slurm-status-command",
        "squeue",
        "--slurm-no-account",
        profile=None,
    )
    by_rule = submitted(fake_slurm)
    assert set(by_rule) == {"demo_slide", "group_slide_prep"}, result.stderr[-3000:]
    assert all(job["state"] == "COMPLETED" for jobs in by_rule.values() for job in jobs)
    assert not any("-A" in job["options"] for jobs in by_rule.values() for job in jobs)
    for slide in ("demo_000", "demo_001"):
        assert (workdir / f"results/tiles/{slide}.h5").exists()

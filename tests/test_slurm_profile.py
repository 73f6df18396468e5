"""profiles/slurm through snakemake-executor-plugin-slurm against fake SLURM commands."""

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from conftest import REPO, run_snakemake, config_arg

pytestmark = pytest.mark.workflow
pytest.importorskip("snakemake_executor_plugin_slurm")

SLURM_COMMANDS = ("sbatch", "sacct", "squeue", "scancel", "srun", "sinfo", "sacctmgr", "sshare", "scontrol")


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


def test_slurm_profile_requests_gpus_only_for_gpu_rules(tmp_path, fake_slurm):
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = run_snakemake(workdir, config_arg("slurm"), "features", "--workflow-profile", str(REPO / "profiles" / "slurm"),
                           "--slurm-init-seconds-before-status-checks", "1", "--jobs", "4",
                           profile=None)
    jobs = [json.loads(line) for line in (fake_slurm / "jobs.jsonl").read_text().splitlines()]
    assert jobs and all(job["state"] == "COMPLETED" for job in jobs), result.stderr[-3000:]
    by_rule = {}
    for job in jobs:  # the plugin's comment names the rule (rule_<name>_wildcards_<...>) or the group and its rules
        rule = job["options"]["--comment"].removeprefix("rule_").split("_wildcards_")[0]
        rule = "group_slide_prep" if rule.startswith("slide_prep_") else rule
        by_rule.setdefault(rule, []).append(job)
    # both slides' fetch, mask and tiling jobs go out as one group submission; one feature job encodes both
    # slides (a shard); collect_features runs inside Snakemake, unsubmitted
    assert len(by_rule["extract_features"]) == 1 and len(by_rule["group_slide_prep"]) == 1
    assert not {"fetch_slide", "tissue_mask", "tile_slide", "collect_features"} & set(by_rule)
    group = by_rule["group_slide_prep"][0]["options"]
    assert int(group["--cpus-per-task"]) == 2 and int(group["-t"]) <= 60  # two slides at once; links, no downloads
    for rule, submitted in by_rule.items():
        for job in submitted:
            options = job["options"]
            assert ("--gpus" in options) == (rule == "extract_features"), (rule, job["args"])
            assert options["--mem"] and options["-t"] and options["--cpus-per-task"]
    assert by_rule["extract_features"][0]["options"]["--gpus"] == "1"
    assert by_rule["extract_features"][0]["options"]["--cpus-per-task"] == "8"   # profile's set-resources
    for slide in ("demo_000", "demo_001"):
        assert (workdir / f"results/features/resnet18/{slide}.h5").exists()

"""profiles/slurm on a real single-node SLURM cluster (tests/slurm/start_cluster.sh): the demo chain from slide
preparation through features to training and predictions, and what SLURM's accounting recorded of each job."""

import math
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime

import pytest
import yaml

from helpers import REPO, SLURM_PROFILE, TEST_CONFIGS, config_arg, group_request, rule_blocks, run_snakemake

pytestmark = pytest.mark.workflow
pytest.importorskip("snakemake_executor_plugin_slurm")

START_CLUSTER = REPO / "tests" / "slurm" / "start_cluster.sh"
CANNOT_RUN = 3  # start_cluster.sh's exit status: not root, or the Debian packages cannot be installed
GROUP_SLIDES = 3  # G for this run: its 7 slides make slide_prep groups of 3, 3 and 1
SACCT_FIELDS = "JobID,State,ReqCPUS,ReqMem,Timelimit,ReqTRES,Comment"


@dataclass(frozen=True)
class Node:
    cpus: int
    memory_mb: int


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A started cluster (its node); stopped afterwards, also when starting fails half-way."""
    state = tmp_path_factory.mktemp("slurm")
    started = subprocess.run([START_CLUSTER, str(state)], capture_output=True, text=True)
    try:
        if started.returncode == CANNOT_RUN:
            pytest.skip(f"no SLURM cluster on this machine: {started.stderr.strip()}")
        assert started.returncode == 0, f"start_cluster.sh failed:\n{started.stdout}\n{started.stderr}"
        print(started.stderr.strip())
        node = subprocess.run(["sinfo", "-h", "-N", "-o", "%c %m"], capture_output=True, text=True, check=True)
        yield Node(*(int(value) for value in node.stdout.split()))
    finally:
        subprocess.run([START_CLUSTER, "--stop", str(state)], check=True)


def accounted_jobs(since: str) -> list[dict]:
    """sacct's record of every job since `since`, a dict per job with the requested CPUs, MB, minutes and GPUs."""
    lines = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-S", since, f"--format={SACCT_FIELDS}"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    jobs = []
    for line in lines:
        record = dict(zip(SACCT_FIELDS.split(","), line.split("|"), strict=True))
        hours, minutes, _ = (int(part) for part in record["Timelimit"].split(":"))
        gpus = re.search(r"gres/gpu=(\d+)", record["ReqTRES"])
        # the plugin's comment names the rule (rule_<name>_wildcards_<...>) or the group (slide_prep_<...>)
        rule = record["Comment"].removeprefix("rule_").split("_wildcards_")[0]
        jobs.append(
            {
                "rule": "slide_prep" if rule.startswith("slide_prep_") else rule,
                "state": record["State"],
                "request": (int(record["ReqCPUS"]), int(record["ReqMem"].removesuffix("M")), hours * 60 + minutes),
                "gpus": int(gpus.group(1)) if gpus else 0,
            }
        )
    return jobs


def declared(rule: str) -> tuple[int | None, int | None, int | None]:
    """A rule's threads, mem_mb and runtime as rules/*.smk write them (None where an expression sets them)."""
    _, block = rule_blocks()[rule]
    values = (re.search(rf"{key}\s*[:=]\s*(\d+),?\s*$", block, re.M) for key in ("threads", "mem_mb", "runtime"))
    return tuple(int(match.group(1)) if match else None for match in values)


def test_demo_chain_on_slurm(tmp_path, slurm_cluster):
    """What README tells users of nodes smaller than the profile's requests: --cores C, C the node's CPUs, and
    the feature job's mem_mb lowered to the node's memory where it has less."""
    config = yaml.safe_load((TEST_CONFIGS / "slurm" / "config.yaml").read_text())
    feature_mb = min(declared("extract_features")[1], slurm_cluster.memory_mb)
    cores, slides = slurm_cluster.cpus, config["demo"]["n_slides"] + config["demo"]["new_slides"]
    since = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    workdir = tmp_path / "work"
    workdir.mkdir()
    run_snakemake(
        workdir,
        config_arg("slurm"),
        "features",
        "train",
        "predict",
        "--workflow-profile",
        str(SLURM_PROFILE),
        "--group-components",
        f"slide_prep={GROUP_SLIDES}",
        "--set-resources",
        f"extract_features:mem_mb={feature_mb}",
        "--slurm-init-seconds-before-status-checks",
        "1",
        profile=None,
        cores=cores,
        timeout=1800,  # 9 minutes on the loaded 2-core VM
    )
    jobs = accounted_jobs(since)
    assert jobs and all(job["state"] == "COMPLETED" for job in jobs), jobs
    by_rule = {}
    for job in jobs:
        by_rule.setdefault(job["rule"], []).append(job)
    # one submission per G slides' preparation, each asking for what C at once need (the profile's arithmetic)
    sizes = [min(GROUP_SLIDES, slides - start) for start in range(0, slides, GROUP_SLIDES)]
    groups = by_rule.pop("slide_prep")
    assert len(groups) == math.ceil(slides / GROUP_SLIDES)
    assert sorted(job["request"] for job in groups) == sorted(group_request(cores, n, annotated=True) for n in sizes)
    assert not {"fetch_slide", "fetch_annotation", "tissue_mask", "tile_slide", "collect_features"} & set(by_rule)
    assert len(by_rule["demo_slide"]) == slides and len(by_rule["train_mil"]) == config["training"]["folds"]
    assert len(by_rule["extract_features"]) == 1  # one shard encodes every slide
    gpu_rules = {
        rule for rule, (_, block) in rule_blocks().items() if re.search(r"^\s+gpu=(1|IN\.feature_gpus),", block, re.M)
    }
    for rule, submitted in by_rule.items():
        expected = declared(rule)
        if rule == "extract_features":  # threads: features.num_workers + 1
            expected = (config["features"]["num_workers"] + 1, feature_mb, None)
        for job in submitted:
            assert all(want in (None, got) for want, got in zip(expected, job["request"], strict=True)), (rule, job)
            assert job["gpus"] == (rule in gpu_rules), (rule, job)
    assert {"extract_features", "train_mil", "deploy_predictions"} <= gpu_rules & set(by_rule)
    assert (workdir / "results/predictions/tumor/mean_pool_new.csv").exists()

#!/usr/bin/env python3
"""A stand-in for SLURM's commands, for testing the SLURM profile without a cluster.

Installed under the names sbatch, sacct, squeue, scancel, srun, sinfo, sacctmgr, sshare, scontrol. sbatch
records its arguments, runs the job at once (its --wrap command or stdin script) with SLURM_JOB_ID
set, and stores the final state; sacct reports those states; srun runs its command without options.
squeue --name reports the jobs of that name as sacct does. With $FAKE_SLURM_NO_ACCOUNTING set, the cluster has no
accounting storage: sacct, sacctmgr and sshare fail as they do there. State lives in $FAKE_SLURM_DIR.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

STATE = Path(os.environ["FAKE_SLURM_DIR"])
ACCOUNT = "testaccount"


def jobs() -> list[dict]:
    path = STATE / "jobs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def sbatch(args: list[str]) -> int:
    options, command, i = {}, None, 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--wrap="):
            command = arg[len("--wrap=") :]
        elif arg == "--wrap":
            command, i = args[i + 1], i + 1
        elif arg == "/dev/stdin":
            command = sys.stdin.read()
        elif arg.startswith("-") and "=" in arg:
            key, value = arg.split("=", 1)
            options[key] = value
        elif arg.startswith("-") and i + 1 < len(args) and not args[i + 1].startswith("-"):
            options[arg], i = args[i + 1], i + 1
        else:
            options[arg] = True
        i += 1
    job_id = str(100 + len(jobs()))
    record = {"id": job_id, "name": options.get("--job-name", ""), "args": args, "options": options, "command": command}
    output = str(options.get("--output", STATE / "slurm-%j.out")).replace("%j", job_id)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "SLURM_JOB_ID": job_id,
        "SLURM_JOBID": job_id,
        "SLURM_CPUS_PER_TASK": str(options.get("--cpus-per-task", 1)),
    }
    with open(output, "w") as log:
        rc = subprocess.run(["bash", "-c", command], env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    record["state"] = "COMPLETED" if rc == 0 else "FAILED"
    with open(STATE / "jobs.jsonl", "a") as handle:
        handle.write(json.dumps(record) + "\n")
    print(job_id)
    return 0


NO_ACCOUNTING = "Slurm accounting storage is disabled"


def no_accounting() -> bool:
    return bool(os.environ.get("FAKE_SLURM_NO_ACCOUNTING"))


def squeue(args: list[str]) -> int:
    if "--name" in args:
        name = args[args.index("--name") + 1]
        for job in jobs():
            if job["name"] == name:
                print(f"{job['id']}|{job['state']}")
    return 0


def sacct(args: list[str]) -> int:
    if no_accounting():
        print(f"sacct: error: {NO_ACCOUNTING}", file=sys.stderr)
        return 1
    joined = " ".join(args)
    if "Account" in joined:
        print(ACCOUNT)
    elif "--name" in args:
        name = args[args.index("--name") + 1]
        for job in jobs():
            if job["name"] == name:
                print(f"{job['id']}|{job['state']}")
    elif "-j" in args:
        wanted = set(args[args.index("-j") + 1].split(","))
        for job in jobs():
            if job["id"] in wanted:
                print(f"{job['id']}|{job['state']}")
    return 0


def srun(args: list[str]) -> int:
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 1
    os.execvp(args[i], args[i:])


def main() -> int:
    name, args = Path(sys.argv[0]).name, sys.argv[1:]
    if name == "sbatch":
        return sbatch(args)
    if name == "sacct":
        return sacct(args)
    if name == "srun":
        return srun(args)
    if name == "squeue":
        return squeue(args)
    if name in ("sacctmgr", "sshare"):
        if no_accounting():
            print(f"{name}: error: {NO_ACCOUNTING}", file=sys.stderr)
            return 1
        print(ACCOUNT)
    elif name == "scontrol":
        print("MinJobAge = 300 sec")
    elif name == "sinfo":
        print("PARTITION\ncpu*\ngpu")
    return 0  # scancel: nothing to report


if __name__ == "__main__":
    sys.exit(main())

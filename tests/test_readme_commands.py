"""Every command README.md and the example configs' comments tell users to type, run as a dry run.

Collected: every line of README.md's fenced code blocks and every inline code span that starts with
`snakemake`, `.venv/bin/snakemake` or `make` (optionally after VAR=value assignments), and every comment line
of config/examples/*.yaml that does (backslash continuations joined). Each runs in a mirror of the repository
(symlinks to the code, a writable copy of config/), as a user would type it in the repository root:

- `snakemake ...` with `-n` appended (after everything the user wrote, so a target that an option swallows
  stays swallowed). Placeholders are the user's own files: `my_cohort.yaml` is the copy the README's `cp`
  line (or, in an example config's comment, that example) makes, with `samples:` pointed at a sheet of two
  small slides this test writes, as the README says to do.
- `make ...` as `make -n ...` (the Makefile's dry run), and every snakemake line it would run as above.

Every command is also parsed by Snakemake's own argument parser. What a dry run cannot check is listed
with the reason: UNCHECKED (commands, each still written in the documents, else the test fails), PARSE_ONLY
(options such as --report, whose commands are only parsed) and AS_WRITTEN (--unlock, --lint: run as written,
without a dry run's summary). Verified once against the README and configs before issue 27's fixes: the
three commands with targets after `--resources gpu=1` (README, unlabelled.yaml, `make demo TARGET=tiles`)
fail, every other command passes.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import REPO, write_small_slide

pytestmark = pytest.mark.workflow

EXAMPLES = sorted((REPO / "config" / "examples").glob("*.yaml"))
SNAKEMAKE = ("snakemake", ".venv/bin/snakemake")
PLACEHOLDERS = ("my_cohort.yaml",)  # the user's copy of an example config
DRY_RUN_DONE = "This was a dry-run"

# command -> why a dry run cannot check it (each must still appear in README.md or an example config)
UNCHECKED = {
    "snakemake --sdm conda": "builds conda environments; there is no conda on these machines "
    "(the env files are checked statically by tests/test_conda_envs.py)",
}
# option -> why a command with it is only parsed (Snakemake's own argument parser), not dry-run
PARSE_ONLY = {
    "--report": "builds the report from a finished run's files; with none it stops at the first missing one",
}
# option -> why a command with it runs as written (no -n check of a dry run's summary)
AS_WRITTEN = {
    "--unlock": "only removes a killed run's lock",
    "--lint": "only reads the workflow",
}
# make targets whose commands are not workflow runs: `make -n` checks that they exist and what they would run
MAKE_ONLY_DRY = {"test", "test-fast", "lint", "format", "setup", "setup-test", "view", "clean"}
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=\S*")


def split(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=True)
    except ValueError:  # prose with an apostrophe, not a command
        return []


def assignments(words: list[str]) -> list[str]:
    """The leading VAR=value words of a command (`CORES=2 make demo`)."""
    count = 0
    while count < len(words) and ASSIGNMENT.fullmatch(words[count]):
        count += 1
    return words[:count]


def join_continuations(lines: list[str]) -> list[str]:
    joined, current = [], ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        joined.append(current + line)
        current = ""
    return joined + ([current] if current else [])


def command_words(text: str) -> list[str] | None:
    """The words of a command line if it runs snakemake or make (after VAR=value words), else None."""
    words = split(text)
    program = words[len(assignments(words)) :]
    if program and (program[0] in SNAKEMAKE or (program[0] == "make" and len(program) > 1)):
        return words
    return None


def readme_commands(text: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """(where, words, setup) of every command in README.md: fenced blocks (with the block's cp lines before them,
    which make the placeholders) and inline code spans."""
    found, setup = [], []
    in_block, block = False, []
    prose = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            if in_block:
                setup = []
                for where, command in block:
                    words = split(command)
                    if words[:1] == ["cp"]:
                        setup.append(words)
                    elif command_words(command):
                        found.append((f"README.md:{where}", command_words(command), list(setup)))
                block = []
            in_block = not in_block
            continue
        if in_block:
            block.append((number, line))
        else:
            prose.append((number, line))
    for number, line in prose:
        for span in re.findall(r"`([^`]+)`", line):
            words = command_words(span)
            if words:
                found.append((f"README.md:{number}", words, []))
    return found


def example_commands(path: Path) -> list[tuple[str, list[str], list[list[str]]]]:
    comments = [line.lstrip("#").strip() for line in path.read_text().splitlines() if line.startswith("#")]
    found = []
    for line in join_continuations(comments):
        words = command_words(line)
        if words:  # the placeholder is the user's copy of this example
            found.append(
                (f"{path.relative_to(REPO)}", words, [["cp", str(path.relative_to(REPO)), p] for p in PLACEHOLDERS])
            )
    return found


def all_commands():
    """Each distinct command once (with the places it is written)."""
    found = readme_commands((REPO / "README.md").read_text())
    for path in EXAMPLES:
        found += example_commands(path)
    unique: dict[tuple, tuple] = {}
    for where, words, setup in found:
        key = (tuple(words), tuple(map(tuple, setup)))
        unique[key] = (f"{unique[key][0]},{where.split(':')[-1]}" if key in unique else where, words, setup)
    return list(unique.values())


COMMANDS = all_commands()


def test_commands_are_found_and_unchecked_ones_are_still_documented():
    texts = {shlex.join(words) for _, words, _ in COMMANDS}
    assert any(text.startswith(SNAKEMAKE) for text in texts) and any("make" in text for text in texts)
    assert set(UNCHECKED) <= texts, set(UNCHECKED) - texts


@pytest.fixture(scope="module")
def sheet_folder(tmp_path_factory):
    """A sample sheet of two small slides: a normal one and a tumor one with its annotation."""
    data = tmp_path_factory.mktemp("data")
    rows = []
    for slide_id, label in (("sheet_normal", "normal"), ("sheet_tumor", "tumor")):
        slide = write_small_slide(data, slide_id=slide_id, label=label, width=1024, height=1024)
        rows.append(
            {
                "slide_id": slide_id,
                "source": slide["slide"].name,
                "label": label,
                "patient_id": f"p_{slide_id}",
                "annotation": slide["annotation"].name if label == "tumor" else "",
            }
        )
    pd.DataFrame(rows).to_csv(data / "samples.tsv", sep="\t", index=False)
    return data


@pytest.fixture
def mirror(tmp_path, sheet_folder):
    """The repository as a user's checkout: symlinks to everything but config/ (copied) and outputs, and
    data/ with the sheet."""
    root = tmp_path / "repo"
    root.mkdir()
    for entry in REPO.iterdir():
        if entry.name in {"config", "results", "resources", ".snakemake", ".git", ".test"} or entry.name.startswith(
            ".pytest"
        ):
            continue
        (root / entry.name).symlink_to(entry)
    shutil.copytree(REPO / "config", root / "config")
    (root / "data").symlink_to(sheet_folder)
    return root


def environment() -> dict:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def make_placeholders(root: Path, setup: list[list[str]]) -> None:
    """Run the block's `cp example my_cohort.yaml` lines, then do what the README says: point samples: at
    the sheet (data/samples.tsv). Nothing else of the copy changes."""
    for words in setup:
        subprocess.run(words, cwd=root, check=True)
        target = root / words[-1]
        config = yaml.safe_load(target.read_text())
        if config.get("samples") != "demo":
            config["samples"] = "data/samples.tsv"
        target.write_text(yaml.safe_dump(config, sort_keys=False))


def parse_snakemake(words: list[str]):
    """Snakemake's own argument parser on the words after the program name: (targets, parsed args)."""
    from snakemake.cli import get_argument_parser

    args = get_argument_parser().parse_args(words[1:])
    return args.targets, args


def dry_run(root: Path, words: list[str]) -> subprocess.CompletedProcess:
    command = [*words, "-n"]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300, env=environment())


def check_snakemake(root: Path, words: list[str], where: str) -> None:
    text = shlex.join(words)
    for placeholder in PLACEHOLDERS:
        if any(placeholder in w for w in words):
            assert (root / placeholder).exists(), f"{where}: {placeholder} is never made ({text})"
    parse_snakemake(words)  # raises on what Snakemake's parser rejects (`--resources gpu=1 tiles`)
    if text in UNCHECKED or set(words) & set(PARSE_ONLY):
        return
    result = dry_run(root, words)
    out = result.stdout + result.stderr
    assert result.returncode == 0, f"{where}: `{text}` fails as a dry run:\n{out[-3000:]}"
    if not set(words) & set(AS_WRITTEN):
        assert DRY_RUN_DONE in out, f"{where}: `{text}` did not dry-run the workflow:\n{out[-3000:]}"


@pytest.mark.parametrize("where,words,setup", COMMANDS, ids=[f"{w} {shlex.join(c)}" for w, c, _ in COMMANDS])
def test_documented_command_dry_runs(where, words, setup, mirror):
    make_placeholders(mirror, setup)
    text = shlex.join(words)
    env_words = assignments(words)
    program = words[len(env_words) :]
    if program[0] in SNAKEMAKE:
        check_snakemake(mirror, program, where)
        return
    # make: the Makefile's dry run, then each snakemake command it would run
    env = {**environment(), **dict(w.split("=", 1) for w in env_words)}
    result = subprocess.run(["make", "-n", *program[1:]], cwd=mirror, capture_output=True, text=True, env=env)
    assert result.returncode == 0, f"{where}: `make -n` of `{text}` fails:\n{result.stdout}{result.stderr}"
    runs = [
        shlex.split(line)
        for line in result.stdout.splitlines()
        if split(line)[:1] and split(line)[0].endswith("snakemake")
    ]
    goals = [w for w in program[1:] if "=" not in w]
    if set(goals) & MAKE_ONLY_DRY:
        return
    assert runs, f"{where}: `make -n {shlex.join(program[1:])}` runs no snakemake:\n{result.stdout}"
    targets = [w.split("=", 1)[1] for w in program[1:] if w.startswith("TARGET=")]
    for run in runs:
        parsed_targets, _ = parse_snakemake(run)
        assert sorted(parsed_targets) == sorted(targets), (
            f"{where}: `{shlex.join(run)}` reads targets {parsed_targets}, not {targets}"
        )
        check_snakemake(mirror, run, f"{where} (make -n: {shlex.join(run)})")

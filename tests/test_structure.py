"""The shape the code keeps: a light DAG, one owner per fact, documented job entry points, clean lint."""

import ast
import re
import shutil
import subprocess
import sys
from dataclasses import MISSING, fields
from pathlib import Path

import pytest
import yaml

from conftest import REPO, package_env
from slidesnake.core.errors import ConfigError
from slidesnake.workflow import params as params_module
from slidesnake.workflow.config import check_config, default_config, load_schema

HEAVY_MODULES = {"openslide", "cv2", "torch", "torchvision", "h5py", "sklearn", "matplotlib", "skimage"}
JOBS = REPO / "src" / "slidesnake" / "jobs"


def test_building_the_dag_imports_no_imaging_or_torch(tmp_path):
    """`snakemake -n` on the demo imports neither OpenSlide, OpenCV nor torch (python -X importtime lists
    every module a process imports)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "snakemake", "--snakefile",
                             str(REPO / "Snakefile"), "--directory", str(tmp_path), "--workflow-profile", "none",
                             "--cores", "1", "-n", f"--configfile={REPO / 'config' / 'config.yaml'}"],
                            capture_output=True, text=True, env=package_env(), timeout=300)
    assert "Job stats" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "slidesnake.workflow.cohort" in imported
    assert not {m.split(".")[0] for m in imported} & HEAVY_MODULES


def test_schema_model_enum_equals_the_registry():
    from slidesnake.mil.models import ATTENTION_KINDS, MIL_MODELS
    enum = load_schema("config")["properties"]["training"]["properties"]["models"]["items"]["enum"]
    assert set(enum) == set(MIL_MODELS) == set(ATTENTION_KINDS)


def test_parameter_objects_have_no_defaults_of_their_own():
    """Defaults live only in the schema; every parameter object is built from the validated config."""
    classes = [c for c in vars(params_module).values() if isinstance(c, type) and c.__module__ == params_module.__name__]
    assert len(classes) >= 7
    for cls in classes:
        for field in fields(cls):
            assert field.default is MISSING and field.default_factory is MISSING, f"{cls.__name__}.{field.name}"


def test_output_paths_have_one_owner():
    """Every results/ and resources/ path is spelled in workflow/paths.py only."""
    offenders = []
    sources = [*(REPO / "src").rglob("*.py"), *(REPO / "rules").glob("*.smk"), *(REPO / "scripts").glob("*.py"),
               REPO / "Snakefile"]
    for path in sources:
        if path.name == "paths.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"""["'](results|resources)/""", line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_every_rule_has_one_documented_job_entry_point():
    """jobs/<rule>.py holds one run() with a docstring; each script (or in-process run: block) calls exactly
    its job."""
    rules, in_process = set(), set()
    for smk in (REPO / "rules").glob("*.smk"):
        text = smk.read_text()
        rules |= {m.group(1) for m in re.finditer(r'script:\s*\n\s*"\.\./scripts/(\w+)\.py"', text)}
        in_process |= {m.group(1) for m in re.finditer(r"rule (\w+):(?:(?!\nrule ).)*?\n    run:\n.*?\1\.run[(,]", text,
                                                          re.S)}
    for rule in rules:
        script = (REPO / "scripts" / f"{rule}.py").read_text()
        assert f"from slidesnake.jobs import {rule}" in script, rule
    assert in_process == {"collect_features", "collect_tile_classes", "collect_region_features"}
    rules |= in_process
    for rule in rules:
        tree = ast.parse((JOBS / f"{rule}.py").read_text())
        runs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "run"]
        assert len(runs) == 1 and ast.get_docstring(runs[0]), f"jobs/{rule}.py: one documented run()"
        assert ast.get_docstring(tree), f"jobs/{rule}.py has no module docstring"
    assert {p.stem for p in JOBS.glob("*.py")} - {"__init__"} == rules


def test_label_constants_have_one_owner():
    """The tumor label and the truth-tumor share are spelled only in core/labels.py."""
    offenders = []
    for path in (REPO / "src").rglob("*.py"):
        if path.name == "labels.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"(truth|annotation|labels?)\s*==\s*2\b|\[:,\s*(-1|2)\]|\(2,\)|\bclasses\[-1\]", line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("config,key", [
    ({"features": {"encoders": {"a": {"weights": "random"}}}, "training": {"encoder": "b"}}, "training.encoder"),
    ({"figures": {"heatmap_sources": ["abmil", "attention"]}}, "figures.heatmap_sources"),
    ({"pu": {"task": "grade"}}, "pu.task"),
    ({"pu": {"positive_class": "cancer"}}, "pu.positive_class"),
    ({"tiling": {"min_tissue": 2}}, "tiling.min_tissue"),
    ({"training": {"models": ["abmil", "attention_mil"]}}, "training.models.1"),
    ({"training": {"model_lr": {"trans_mil": 1e-4}}}, "training.model_lr.trans_mil"),
    ({"tilling": {}}, "(top level)"),
])
def test_config_errors_name_the_key(config, key):
    with pytest.raises(ConfigError, match=re.escape(f"config key '{key}'")):
        check_config(config)


def test_config_defaults_and_command_line_strings():
    config = default_config()
    assert config["tiling"]["tile_px"] == 512 and config["deploy"]["samples"] is None
    # --config 'tiling={min_tissue: 0.5}' reaches the workflow as text
    assert check_config({"tiling": {"min_tissue": "0.5", "tile_px": "256"}})["tiling"] == {
        **config["tiling"], "min_tissue": 0.5, "tile_px": 256}


def test_config_example_files_are_valid():
    for path in [REPO / "config" / "config.yaml", *(REPO / "config" / "examples").glob("*.yaml"),
                 *(REPO / ".test").glob("*/config.yaml")]:
        check_config(yaml.safe_load(path.read_text()))


def test_rules_are_snakefmt_formatted_and_code_lints_clean():
    binary = Path(sys.executable).parent
    snakefmt, ruff = shutil.which("snakefmt", path=str(binary)), shutil.which("ruff", path=str(binary))
    if not snakefmt or not ruff:
        pytest.skip("snakefmt / ruff not installed (make setup-test installs them)")
    result = subprocess.run([snakefmt, "--check", "Snakefile", "rules"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    result = subprocess.run([ruff, "check", "src", "scripts", "tests", "benchmarks"], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout


def test_configuration_reference_is_generated_from_the_schema():
    """docs/configuration.md lists every key with the schema's default (run tools/config_reference.py)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("config_reference", REPO / "tools" / "config_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (REPO / "docs" / "configuration.md").read_text() == module.reference()

"""The shape the code keeps: a light DAG, one owner per fact, documented job entry points, clean lint."""

import ast
import functools
import re
import shutil
import subprocess
import sys
from dataclasses import MISSING, fields
from pathlib import Path

import pytest
import yaml

from helpers import REPO, package_env, rule_blocks, rule_directive
from slidesnake.core.errors import ConfigError
from slidesnake.workflow.config import check_config, default_config, load_schema

HEAVY_MODULES = {"openslide", "cv2", "torch", "torchvision", "h5py", "sklearn", "matplotlib", "skimage"}
PACKAGE = REPO / "src" / "slidesnake"
JOBS = PACKAGE / "jobs"


def test_building_the_dag_imports_no_imaging_or_torch(tmp_path):
    """`snakemake -n` on the demo imports neither OpenSlide, OpenCV nor torch (python -X importtime lists
    every module a process imports)."""
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--workflow-profile",
            "none",
            "--cores",
            "1",
            "-n",
            f"--configfile={REPO / 'config' / 'config.yaml'}",
        ],
        capture_output=True,
        text=True,
        env=package_env(),
        timeout=300,
    )
    assert "Job stats" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    }
    assert "slidesnake.workflow.cohort" in imported
    assert not {m.split(".")[0] for m in imported} & HEAVY_MODULES


def test_schema_model_enum_equals_the_registry():
    from slidesnake.mil.models import ATTENTION_KINDS, MIL_MODELS

    enum = load_schema("config")["properties"]["training"]["properties"]["models"]["items"]["enum"]
    assert set(enum) == set(MIL_MODELS) == set(ATTENTION_KINDS)


def test_parameter_objects_have_no_defaults_of_their_own():
    """Defaults live only in the schema; every parameter object (in its package's params.py) is built from the
    validated config."""
    import importlib

    modules = [importlib.import_module(f"slidesnake.{p.parent.name}.params") for p in PACKAGE.glob("*/params.py")]
    classes = [c for m in modules for c in vars(m).values() if isinstance(c, type) and c.__module__ == m.__name__]
    assert len(classes) >= 11
    for cls in classes:
        for field in fields(cls):
            assert field.default is MISSING and field.default_factory is MISSING, f"{cls.__name__}.{field.name}"


def test_output_paths_have_one_owner():
    """Every results/ and resources/ path is spelled in workflow/paths.py only."""
    offenders = []
    sources = [
        *(REPO / "src").rglob("*.py"),
        *(REPO / "rules").glob("*.smk"),
        *(REPO / "scripts").glob("*.py"),
        REPO / "Snakefile",
    ]
    for path in sources:
        if path.name == "paths.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"""["'](results|resources)/""", line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_every_rule_has_one_documented_job_entry_point():
    """jobs/<rule>.py holds one run() with a docstring; each script calls exactly its job. No rule has a run:
    block: Snakemake 9 runs each such job in a new Snakemake process that parses the whole workflow again
    (about 3.5 s per job here, and more with the cohort's size)."""
    rules = set()
    for name, (_, block) in rule_blocks().items():
        assert "\n    run:\n" not in block, f"rule {name} has a run: block"
        script = rule_directive(block, "script")
        if script:
            rules.add(Path(script).stem)
    for rule in rules:
        script = (REPO / "scripts" / f"{rule}.py").read_text()
        assert f"from slidesnake.jobs import {rule}" in script, rule
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


@pytest.mark.parametrize(
    "config,key",
    [
        ({"features": {"encoders": {"a": {"weights": "random"}}}, "training": {"encoder": "b"}}, "training.encoder"),
        ({"figures": {"heatmap_sources": ["abmil", "attention"]}}, "figures.heatmap_sources"),
        ({"pu": {"task": "grade"}}, "pu.task"),
        ({"pu": {"positive_class": "cancer"}}, "pu.positive_class"),
        ({"tiling": {"min_tissue": 2}}, "tiling.min_tissue"),
        ({"training": {"models": ["abmil", "attention_mil"]}}, "training.models.1"),
        ({"training": {"model_lr": {"trans_mil": 1e-4}}}, "training.model_lr.trans_mil"),
        ({"tilling": {}}, "(top level)"),
    ],
)
def test_config_errors_name_the_key(config, key):
    with pytest.raises(ConfigError, match=re.escape(f"config key '{key}'")):
        check_config(config)


def test_config_defaults_and_command_line_strings():
    config = default_config()
    assert config["tiling"]["tile_px"] == 512 and config["deploy"]["samples"] is None
    # --config 'tiling={min_tissue: 0.5}' reaches the workflow as text
    assert check_config({"tiling": {"min_tissue": "0.5", "tile_px": "256"}})["tiling"] == {
        **config["tiling"],
        "min_tissue": 0.5,
        "tile_px": 256,
    }


def test_config_example_files_are_valid():
    for path in [
        REPO / "config" / "config.yaml",
        *(REPO / "config" / "examples").glob("*.yaml"),
        *(REPO / ".test").glob("*/config.yaml"),
    ]:
        check_config(yaml.safe_load(path.read_text()))


def test_rules_are_snakefmt_formatted_and_code_lints_clean():
    binary = Path(sys.executable).parent
    snakefmt, ruff = shutil.which("snakefmt", path=str(binary)), shutil.which("ruff", path=str(binary))
    if not snakefmt or not ruff:
        pytest.skip("snakefmt / ruff not installed (make setup-test installs them)")
    result = subprocess.run([snakefmt, "--check", "Snakefile", "rules"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    result = subprocess.run(
        [ruff, "check", "src", "scripts", "tests", "benchmarks"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_configuration_reference_is_generated_from_the_schema():
    """docs/configuration.md lists every key with the schema's default (run tools/config_reference.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("config_reference", REPO / "tools" / "config_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (REPO / "docs" / "configuration.md").read_text() == module.reference()


CODE = [
    *(REPO / "src").rglob("*.py"),
    *(REPO / "scripts").glob("*.py"),
    *(REPO / "benchmarks").glob("*.py"),
    *(REPO / "tools").glob("*.py"),
]
WIRING = [*(REPO / "rules").glob("*.smk"), REPO / "Snakefile"]
IO = REPO / "src" / "slidesnake" / "io"
PEER_LAYOUTS = IO / "exports.py"  # spells CLAM's and TRIDENT's own attribute names, some equal to ours
# Attribute names that are also words of other contracts: sheet, manifest and CSV columns, config keys, checkpoint
# and rule-input names, the tiles file's per-tile dataset. Each must be spelled elsewhere (the test checks that
# the exemption is needed) and at most once in the format modules.
SHARED_WORDS = {
    "slide_id": "sheet, manifest, shard-table and CSV column",
    "encoder": "config key (training.encoder)",
    "weights": "config key of encoders and the classifier",
    "reader": "summary key of the tile stream",
    "decoder": "summary key of the tile stream",
    "precision": "classifier training and benchmark summaries",
    "vit256_weights": "config key (region_features)",
    "vit4k_weights": "config key (region_features)",
    "stain_reference": "rule input name",
    "tile_px": "benchmark summaries",
    "patch_px": "classifier checkpoint",
    "vendor": "slide check summary",
    "mpp": "sheet column and slide check summary",
    "threshold": "GeoJSON region property",
    "tissue_fraction": "the tiles file's per-tile dataset",
}


def string_literals(text: str, wiring: bool) -> list[tuple[str, int]]:
    """(value, line) of every string constant but docstrings (f-string parts included); quoted words of .smk
    files."""
    if wiring:
        return [
            (m.group(2), number)
            for number, line in enumerate(text.splitlines(), start=1)
            for m in re.finditer(r"""(["'])([A-Za-z0-9_]+)\1""", line)
        ]
    nodes = list(ast.walk(ast.parse(text)))
    docstrings = {id(n.value) for n in nodes if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    return [
        (node.value, node.lineno)
        for node in nodes
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


@functools.lru_cache(maxsize=1)
def literal_places() -> dict[str, list[str]]:
    places: dict[str, list[str]] = {}
    for path in [*CODE, *WIRING]:
        if path == PEER_LAYOUTS:
            continue
        for value, line in string_literals(path.read_text(), path in WIRING):
            places.setdefault(value, []).append(f"{path.relative_to(REPO)}:{line}")
    return places


def format_names() -> dict[str, tuple[str, ...]]:
    """Each file format's module and the attribute (JSON: key) names it owns."""
    from slidesnake.io import feature_file, region_file, tile_file, tile_scores
    from slidesnake.io.mask_info import MaskInfo

    return {
        "tile_file.py": tile_file.ATTRIBUTES,
        "region_file.py": region_file.REGION_ATTRIBUTES,
        "feature_file.py": feature_file.ATTRIBUTES,
        "tile_scores.py": tile_scores.ATTRIBUTES,
        "mask_info.py": tuple(f.name for f in fields(MaskInfo) if f.name != "provenance"),
    }


def test_file_format_names_have_one_owner():
    """Every attribute name of the tiles, regions, features and tile-score files and every mask-info key is
    spelled in one place, a module of io/: as a string literal (constants the other modules import) or as a
    field of a typed record (MaskInfo, PatchLayout); spelled anywhere else, a reader or writer has its own copy."""
    offenders = []
    formats = format_names()
    owner_paths = {str((IO / module).relative_to(REPO)) for module in formats}
    for module, names in formats.items():
        assert names, module
        for name in names:
            places = literal_places().get(name, [])
            owners = [p for p in places if p.split(":")[0] in owner_paths]
            elsewhere = [p for p in places if p not in owners]
            if len(owners) > 1 or (elsewhere and name not in SHARED_WORDS):
                offenders.append(f"{module} {name}: {places}")
    assert not offenders, "\n".join(offenders)
    every_name = {n for names in formats.values() for n in names}
    for word in SHARED_WORDS:
        assert word in every_name, f"{word} is no attribute name of a file format"
        assert any(p.split(":")[0] not in owner_paths for p in literal_places().get(word, [])), (
            f"{word} is spelled only in the format modules: drop it from SHARED_WORDS"
        )


def test_prediction_columns_have_one_owner():
    """The predictions CSV's probability columns (prob_{class}) are spelled in io/predictions.py only."""
    places = [p for value, spots in literal_places().items() if "prob_" in value for p in spots]
    assert len(places) == 1 and places[0].startswith("src/slidesnake/io/predictions.py"), places


# The domain building blocks; above them workflow/ (DAG time) and jobs/ (one entry point per rule).
DOMAIN_PACKAGES = (
    "core",
    "io",
    "tissue",
    "features",
    "stain",
    "mil",
    "pu",
    "evaluation",
    "figures",
    "classifier",
    "demo",
)


def imported_modules(path: Path) -> set[str]:
    """slidesnake modules a file imports, at any depth (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "slidesnake":
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "slidesnake"}
    return found


def package_imports() -> dict[str, set[str]]:
    """Subpackage -> the other subpackages its modules import."""
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    graph: dict[str, set[str]] = {name: set() for name in packages}
    for name in packages:
        for path in (PACKAGE / name).rglob("*.py"):
            graph[name] |= {m.split(".")[1] for m in imported_modules(path) if m.count(".") >= 1} & packages - {name}
    return graph


def test_domain_packages_do_not_import_the_dag_layer():
    """No module of a domain package imports workflow/ (DAG time) or jobs/ (rule entry points)."""
    offenders = [
        f"{path.relative_to(REPO)}: {module}"
        for package in DOMAIN_PACKAGES
        for path in (PACKAGE / package).rglob("*.py")
        for module in sorted(imported_modules(path))
        if module.startswith(("slidesnake.workflow", "slidesnake.jobs"))
    ]
    assert not offenders, "\n".join(offenders)


def test_no_import_cycles_between_packages():
    """The subpackages' imports form a DAG (depth-first search for a back edge)."""
    graph = package_imports()
    assert {"workflow", "io", "mil"} <= graph["jobs"] and "core" in graph["io"]  # the scan sees the imports
    state: dict[str, str] = {}

    def visit(package: str, trail: list[str]) -> None:
        state[package] = "open"
        for other in sorted(graph[package]):
            assert state.get(other) != "open", "import cycle: " + " -> ".join([*trail, package, other])
            if other not in state:
                visit(other, [*trail, package])
        state[package] = "done"

    for package in sorted(graph):
        if package not in state:
            visit(package, [])


# The ValueError / RuntimeError raises left in the package: each a programming error (a caller broke a contract,
# or the config schema already rules the value out), so the job fails with a traceback. Errors a user can fix are
# the named errors of slidesnake.core.errors, which end a job with their message alone.
PLAIN_RAISES = {  # (module, start of the message, f-string fields as {}): why it is no user's to fix
    ("tissue/masking.py", "unknown mask channel"): "the schema's enum rules it out",
    ("features/extract.py", "encoder '{}' normalises with each"): "caller: SLIDE_NORM encoders get the statistics",
    ("features/extract.py", "encoder '{}' normalises stain"): "rules pass a stain-normalising encoder its reference",
    ("features/extract.py", "stain reference "): "rules pass the reference of the encoder's method",
    ("stain/normalise.py", "unknown stain normalisation"): "the schema's enum rules it out",
    ("io/tile_reader.py", "unknown reader"): "the schema's enum rules it out",
    ("io/tile_file.py", "tile file attributes missing"): "writer contract",
    ("io/pyramid_tiff.py", "JPEG encoding failed"): "OpenCV failed on an in-memory image",
    ("view/layers.py", "PNG encoding failed"): "OpenCV failed on an in-memory image",
    ("io/pyramid_tiff.py", "tile ("): "writer contract",
    ("io/pyramid_tiff.py", "level "): "writer contract",
    ("jobs/slide_manifest.py", "unknown slide manifest columns"): "rule wiring",
    ("demo/patches.py", "no demo recipe for tissue class"): "PATCH_CLASSES and the recipes disagree",
    ("mil/models.py", "unknown MIL model"): "the schema's enum rules it out",
    ("mil/models.py", "unknown batch correction"): "the schema's enum rules it out",
    ("mil/correction.py", "slide {} has no site"): "require_sites names the sheet's row before any job",
    ("mil/losses.py", "unknown regression loss"): "the schema's enum rules it out",
    ("pu/learner.py", "unknown PU mode"): "caller contract",
    ("demo/real_tissue.py", "real-tissue testbed: no crop"): "crop centres are drawn where a crop is tissue",
    ("evaluation/calibration.py", "target sensitivity {} is not in"): "caller contract: no config key sets it",
}


def message_template(node: ast.expr | None) -> str:
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return ""


def test_user_fixable_errors_are_named_errors():
    """Every plain `raise ValueError(...)` / `raise RuntimeError(...)` of the package is listed above, once, with
    the reason it is no user's to fix; errors a user can fix are the named errors of slidesnake.core.errors."""
    matched, unlisted = {key: 0 for key in PLAIN_RAISES}, []
    for path in PACKAGE.rglob("*.py"):
        module = str(path.relative_to(PACKAGE))
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Raise)
                and isinstance(node.exc, ast.Call)
                and getattr(node.exc.func, "id", None) in ("ValueError", "RuntimeError")
            ):
                text = message_template(node.exc.args[0] if node.exc.args else None)
                keys = [k for k in PLAIN_RAISES if k[0] == module and text.startswith(k[1])]
                for key in keys:
                    matched[key] += 1
                if not keys:
                    unlisted.append(f"{module}:{node.lineno}: {text}")
    assert not unlisted, "user-fixable? raise a named error, or list it:\n" + "\n".join(unlisted)
    assert all(count == 1 for count in matched.values()), matched

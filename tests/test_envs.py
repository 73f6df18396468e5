"""Every third-party module a rule's script imports, directly or through the package, is in its env file."""

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO, rule_blocks, rule_directive

PACKAGE = REPO / "src" / "slidesnake"
# import name -> conda / pip package name
PACKAGE_NAMES = {
    "cv2": "opencv",
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "PIL": "pillow",
    "openslide": "openslide-python",
    "umap": "umap-learn",
    "matplotlib": "matplotlib-base",
}
PROVIDED = {"snakemake", "workflow_package"}  # Snakemake adds its own modules and the scripts folder
OPTIONAL = {"transformers"}  # imported only for an encoder that asks for it


def script_rules() -> dict[str, dict[str, str]]:
    """rule name -> {"conda": path, "script": path} of every rule that runs a script."""
    rules = {}
    for name, (smk, block) in rule_blocks().items():
        found = {key: rule_directive(block, key) for key in ("conda", "script")}
        if found["script"]:
            rules[name] = {k: str((smk.parent / v).resolve()) for k, v in found.items() if v}
    return rules


def module_file(dotted: str) -> Path | None:
    parts = dotted.split(".")
    if parts[0] != "slidesnake":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def third_party_imports(path: Path, seen: set[Path] | None = None) -> set[str]:
    """Top-level third-party module names imported by a file and, transitively, by the package modules it uses."""
    seen = set() if seen is None else seen
    if path in seen:
        return set()
    seen.add(path)
    found = set()
    # the package a relative import starts from: a module's parent package, or the package itself for __init__
    parts = ["slidesnake", *path.relative_to(PACKAGE).parent.parts] if path.is_relative_to(PACKAGE) else []
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = parts[: len(parts) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            else:
                base = node.module
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for name in names:
            top = name.split(".")[0]
            if top == "slidesnake":
                target = module_file(name)
                if target:
                    found |= third_party_imports(target, seen)
            elif top not in sys.stdlib_module_names and top not in PROVIDED and top != "__future__":
                found.add(top)
    return found


def declared(env_file: str) -> set[str]:
    spec = yaml.safe_load(Path(env_file).read_text())
    names = set()
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            names |= {re.split(r"[=<>! ]", p)[0] for p in dep.get("pip", [])}
        else:
            names.add(re.split(r"[=<>! ]", dep)[0])
    return names


RULES = script_rules()


def test_every_rule_has_an_env_and_a_script():
    assert {"demo_slide", "fetch_slide", "tissue_mask", "tile_slide", "extract_features", "train_mil"} <= set(RULES)
    for name, paths in RULES.items():
        assert "conda" in paths and Path(paths["conda"]).exists(), name


@pytest.mark.parametrize("rule", sorted(RULES))
def test_env_declares_every_imported_module(rule):
    paths = RULES[rule]
    needed = third_party_imports(Path(paths["script"])) - OPTIONAL
    missing = {PACKAGE_NAMES.get(m, m) for m in needed} - declared(paths["conda"])
    assert not missing, f"rule {rule}: {Path(paths['conda']).name} lacks {sorted(missing)}"


def test_import_walker_follows_the_package():
    """extract_features.py imports only the package; its needs come through features -> encoders, slide, ..."""
    imports = third_party_imports(REPO / "scripts" / "extract_features.py")
    assert {"torch", "torchvision", "timm", "h5py", "openslide", "cv2", "tifffile", "numpy", "tqdm"} <= imports
    assert "transformers" in imports  # the lazy import inside encoders.phikon is seen
    assert "torch" not in third_party_imports(REPO / "scripts" / "tile_slide.py")

"""Write docs/configuration.md, the table of every config key, from the config schema (the one owner of
defaults and their meaning). A test checks the file is up to date:

    PYTHONPATH=src python tools/config_reference.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "configuration.md"


def rows(schema: dict, prefix: str = ""):
    for key, sub in schema.get("properties", {}).items():
        name = f"{prefix}{key}"
        optional_object = "properties" in sub and "null" in sub.get("type", [])
        if "properties" in sub and not optional_object:
            yield from rows(sub, f"{name}.")
            continue
        default = json.dumps(sub.get("default")) if "default" in sub else "(required)"
        allowed = f" One of {', '.join(f'`{v}`' for v in sub['enum'])}." if "enum" in sub else ""
        if "items" in sub and "enum" in sub["items"]:
            allowed = f" Items from {', '.join(f'`{v}`' for v in sub['items']['enum'])}."
        text = " ".join(str(sub.get("description", "")).split())
        yield f"| `{name}` | `{default}` | {text}{allowed} |"
        if optional_object:  # its own row (null by default), then its keys' rows
            yield from rows(sub, f"{name}.")


def reference() -> str:
    sys.path.insert(0, str(REPO / "src"))
    from slidesnake.workflow.config import load_schema

    lines = [
        "# Configuration keys",
        "",
        "Generated from `src/slidesnake/workflow/schemas/config.schema.yaml` by `tools/config_reference.py`;",
        "the schema is the one owner of every default. `config/config.yaml` (the demo) and",
        "`config/examples/*.yaml` set a few of them.",
        "",
        "| key | default | meaning |",
        "|---|---|---|",
        *rows(load_schema("config")),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    OUT.write_text(reference())
    print(f"wrote {OUT}")

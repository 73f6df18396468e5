"""Puts the workflow's own package (src/) on sys.path, so scripts import it in any environment:
the project venv, per-rule conda envs (--sdm conda) or cluster nodes. Snakemake adds this folder
to sys.path for local scripts."""
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

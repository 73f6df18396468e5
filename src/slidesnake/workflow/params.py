"""Building parameter objects from the validated config (defaults live only in the schema).

The objects live beside the code they parameterise, in each domain package's params.py (tissue.params,
features.params, ...). Rules pass `section_params(Params, config[section])` as a `params:` entry (a plain dict,
so Snakemake reruns a job when one of them changes); jobs rebuild the object with `Params(**params.x)`.
"""

from __future__ import annotations

from dataclasses import fields


def section_params(cls, section: dict, **extra) -> dict:
    """The values `cls` takes, picked from a config section (plus `extra`), in field order."""
    merged = {**section, **extra}
    missing = [f.name for f in fields(cls) if f.name not in merged]
    if missing:
        raise KeyError(f"{cls.__name__} needs {missing}, which the config section lacks")
    return {f.name: merged[f.name] for f in fields(cls)}

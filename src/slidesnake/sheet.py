"""Load and check the sample sheet; every error names the row and the column."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import jsonschema
import pandas as pd
import yaml

from .errors import SampleSheetError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "schemas" / "samples.schema.yaml"
URL_SCHEMES = ("http", "https", "file")
SLIDE_EXTENSIONS = (
    "svs", "tif", "tiff", "ndpi", "vms", "vmu", "scn", "mrxs", "svslide", "bif", "dcm", "czi",
)
OPTIONAL_COLUMNS = ("md5", "label", "patient_id", "annotation", "mpp")


def load_schema(path: Path = SCHEMA_PATH) -> dict:
    with open(path) as handle:
        return yaml.safe_load(handle)


def _cell_or_none(value):
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


def classify_source(value: str, base_dir: Path, row: int, column: str) -> tuple[str, str]:
    """Return ("url", url) or ("path", absolute path) for a source cell, or raise."""
    parsed = urlparse(value)
    scheme = parsed.scheme.lower()
    if len(scheme) > 1:  # one letter is a Windows drive, not a scheme
        if scheme not in URL_SCHEMES:
            raise SampleSheetError(
                f"unsupported URL scheme '{scheme}://' in '{value}' (use http, https, file or a path)",
                row, column,
            )
        if scheme != "file":
            return "url", value
        path = Path(unquote(parsed.path))
    else:
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = base_dir / path
    if not path.exists():
        raise SampleSheetError(f"local file does not exist: {path}", row, column)
    return "path", str(path.resolve())


def slide_extension(location: str, row: int) -> str:
    """File extension that tells OpenSlide the format (kept on the downloaded or linked copy)."""
    name = Path(unquote(urlparse(location).path) if "://" in location else location).name
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in SLIDE_EXTENSIONS:
        raise SampleSheetError(
            f"cannot tell the slide format from '{name}'; the file name must end in one of "
            f".{', .'.join(SLIDE_EXTENSIONS)}",
            row, "source",
        )
    return suffix


def check_sheet(table: pd.DataFrame, base_dir: Path, label_columns: dict[str, list[str]] | None = None,
                schema: dict | None = None) -> pd.DataFrame:
    """Validate a raw sheet and return it normalised (one row per slide, index slide_id).

    `label_columns` maps each label column a training task needs to its allowed classes.
    """
    schema = schema or load_schema()
    if table.empty:
        raise SampleSheetError("the sheet has no rows")
    missing = [c for c in schema["required"] if c not in table.columns]
    if missing:
        raise SampleSheetError(f"missing required column(s): {', '.join(missing)}")
    for column in OPTIONAL_COLUMNS:
        if column not in table.columns:
            table[column] = None
    validator = jsonschema.Draft202012Validator(schema)
    rows, seen = [], {}
    for index, raw in enumerate(table.to_dict("records"), start=1):
        record = {k: _cell_or_none(v) for k, v in raw.items()}
        if record.get("mpp") is not None:
            try:
                record["mpp"] = float(record["mpp"])
            except ValueError:
                raise SampleSheetError(f"'{record['mpp']}' is not a number", index, "mpp") from None
        for column in ("label", "patient_id", "slide_id"):
            if record.get(column) is not None:
                record[column] = str(record[column])
        errors = sorted(validator.iter_errors(record), key=lambda e: list(e.path))
        if errors:
            error = errors[0]
            column = error.path[0] if error.path else None
            if error.validator == "required":
                column = re.findall(r"'(\w+)'", error.message)[0]
                raise SampleSheetError("value is empty", index, column)
            if error.validator == "pattern":
                raise SampleSheetError(
                    f"'{error.instance}' may only use letters, digits, '.', '_' and '-'"
                    if column in ("slide_id", "patient_id") else
                    f"'{error.instance}' is not a 32-digit hexadecimal md5",
                    index, column,
                )
            raise SampleSheetError(error.message, index, column)
        slide_id = record["slide_id"]
        if slide_id in seen:
            raise SampleSheetError(f"duplicate slide_id '{slide_id}' (first in row {seen[slide_id]})",
                                   index, "slide_id")
        seen[slide_id] = index
        record["source_kind"], record["source"] = classify_source(record["source"], base_dir, index, "source")
        record["ext"] = slide_extension(record["source"], index)
        if record["annotation"] is not None:
            record["annotation_kind"], record["annotation"] = classify_source(
                record["annotation"], base_dir, index, "annotation")
        else:
            record["annotation_kind"] = None
        if record["md5"] is not None:
            record["md5"] = record["md5"].lower()
        record["patient_id"] = record["patient_id"] or slide_id
        for column, classes in (label_columns or {}).items():
            value = record.get(column)
            if value is None:
                raise SampleSheetError(f"slide '{slide_id}' has no label, and a training task needs one",
                                       index, column)
            if classes and value not in classes:
                raise SampleSheetError(f"label '{value}' of slide '{slide_id}' is not one of {classes}",
                                       index, column)
        record["row"] = index
        rows.append(record)
    return as_sheet(rows)


def as_sheet(rows: list[dict]) -> pd.DataFrame:
    """Rows as a sheet indexed by slide_id, with missing values as None (never NaN)."""
    table = pd.DataFrame(rows).astype(object)
    return table.where(table.notna(), None).set_index("slide_id", drop=False)


def read_sheet(path: str | Path, label_columns: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """Read a tab-separated sample sheet and check it."""
    path = Path(path)
    if not path.exists():
        raise SampleSheetError(f"file not found: {path}")
    table = pd.read_csv(path, sep="\t", dtype=str, comment="#", skip_blank_lines=True, keep_default_na=False)
    table.columns = [c.strip() for c in table.columns]
    return check_sheet(table, path.resolve().parent, label_columns)

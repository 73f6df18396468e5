"""Load and check a sample sheet; every error names the sheet file, the row and the column.

Reads with the csv module into plain records (no pandas): the workflow looks slides up by id while it
builds the DAG, and that must stay cheap for 10,000-slide cohorts.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import jsonschema

from slidesnake.core.errors import SampleSheetError
from slidesnake.core.labels import SITE_COLUMN
from slidesnake.workflow.config import load_schema

URL_SCHEMES = ("http", "https", "file")
SLIDE_EXTENSIONS = (
    "svs",
    "tif",
    "tiff",
    "ndpi",
    "vms",
    "vmu",
    "scn",
    "mrxs",
    "svslide",
    "bif",
    "dcm",
    "czi",
)
ANNOTATION_EXTENSIONS = ("png", "tif", "tiff")
KNOWN_COLUMNS = ("slide_id", "source", "md5", "patient_id", "annotation", "mpp", SITE_COLUMN)


@dataclass(frozen=True)
class SlideRecord:
    """One checked sheet row."""

    slide_id: str
    source: str  # URL, or absolute local path
    source_kind: str  # "url" | "path"
    ext: str  # slide file extension (tells OpenSlide the format)
    patient_id: str
    row: int
    md5: str | None = None
    annotation: str | None = None
    annotation_kind: str | None = None
    mpp: float | None = None
    site: str | None = None  # the optional site column (hospital, scanner, batch)
    columns: dict = field(default_factory=dict)  # every other column (labels, ...): value or None

    @property
    def annotation_ext(self) -> str | None:
        return None if self.annotation is None else self.annotation.rsplit(".", 1)[-1].lower()

    def value(self, column: str) -> str | None:
        return self.columns.get(column)


def _cell(value):
    if value is None:
        return None
    value = value.strip()
    return value or None


def url_scheme(value: str) -> str | None:
    """The URL scheme of a source, lower case; None for a path (one letter is a Windows drive, not a scheme)."""
    scheme = urlparse(value).scheme.lower()
    return scheme if len(scheme) > 1 else None


def source_kind(value: str) -> str:
    """ "url" for a source fetched over the network, "path" for a local file (a path or a file:// URL)."""
    return "url" if url_scheme(value) not in (None, "file") else "path"


def classify_source(value: str, base_dir: Path, row: int, column: str) -> tuple[str, str]:
    """("url", url) or ("path", absolute path) for a source cell, or raise."""
    scheme = url_scheme(value)
    if scheme is not None:
        if scheme not in URL_SCHEMES:
            raise SampleSheetError(
                f"unsupported URL scheme '{scheme}://' in '{value}' (use http, https, file or a path)", row, column
            )
        if source_kind(value) == "url":
            return "url", value
        path = Path(unquote(urlparse(value).path))
    else:
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = base_dir / path
    if not path.exists():
        raise SampleSheetError(f"local file does not exist: {path}", row, column)
    return "path", str(path.resolve())


def file_extension(location: str, row: int, column: str, allowed: tuple[str, ...], what: str) -> str:
    """The extension of a URL or path, which must be one of `allowed`."""
    name = Path(unquote(urlparse(location).path) if "://" in location else location).name
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in allowed:
        raise SampleSheetError(
            f"cannot tell the {what} format from '{name}'; the file name must end in one of .{', .'.join(allowed)}",
            row,
            column,
        )
    return suffix


def check_row(raw: dict, row: int, base_dir: Path, validator) -> SlideRecord:
    record = {k: _cell(v) for k, v in raw.items() if k is not None}
    if record.get("mpp") is not None:
        try:
            record["mpp"] = float(record["mpp"])
        except ValueError:
            raise SampleSheetError(f"'{record['mpp']}' is not a number", row, "mpp") from None
    errors = sorted(
        validator.iter_errors({k: v for k, v in record.items() if v is not None or k in KNOWN_COLUMNS}),
        key=lambda e: list(e.path),
    )
    if errors:
        error = errors[0]
        column = error.path[0] if error.path else None
        if error.validator == "required":
            raise SampleSheetError("value is empty", row, re.findall(r"'(\w+)'", error.message)[0])
        if error.validator == "pattern":
            raise SampleSheetError(
                f"'{error.instance}' may only use letters, digits, '.', '_' and '-'"
                if column in ("slide_id", "patient_id")
                else f"'{error.instance}' is not a 32-digit hexadecimal md5",
                row,
                column,
            )
        raise SampleSheetError(error.message, row, column)
    source_kind, source = classify_source(record["source"], base_dir, row, "source")
    annotation_kind = annotation = None
    if record.get("annotation") is not None:
        annotation_kind, annotation = classify_source(record["annotation"], base_dir, row, "annotation")
        file_extension(annotation, row, "annotation", ANNOTATION_EXTENSIONS, "annotation mask")
    return SlideRecord(
        slide_id=record["slide_id"],
        source=source,
        source_kind=source_kind,
        ext=file_extension(source, row, "source", SLIDE_EXTENSIONS, "slide"),
        patient_id=record.get("patient_id") or record["slide_id"],
        row=row,
        md5=record["md5"].lower() if record.get("md5") else None,
        annotation=annotation,
        annotation_kind=annotation_kind,
        mpp=record.get("mpp"),
        site=record.get(SITE_COLUMN),
        columns={k: v for k, v in record.items() if k not in KNOWN_COLUMNS},
    )


def check_rows(rows: list[dict], base_dir: Path) -> dict[str, SlideRecord]:
    """Check raw rows (column -> text) and return records by slide id, in sheet order."""
    schema = load_schema("samples")
    if not rows:
        raise SampleSheetError("the sheet has no rows")
    missing = [c for c in schema["required"] if c not in rows[0]]
    if missing:
        raise SampleSheetError(f"missing required column(s): {', '.join(missing)}")
    validator = jsonschema.Draft202012Validator(schema)
    records: dict[str, SlideRecord] = {}
    for index, raw in enumerate(rows, start=1):
        record = check_row(raw, index, base_dir, validator)
        if record.slide_id in records:
            raise SampleSheetError(
                f"duplicate slide_id '{record.slide_id}' (first in row {records[record.slide_id].row})",
                index,
                "slide_id",
            )
        records[record.slide_id] = record
    return records


def read_sheet(path: str | Path) -> dict[str, SlideRecord]:
    """Read a tab-separated sample sheet (lines starting with # are comments) and check it."""
    path = Path(path)
    if not path.exists():
        raise SampleSheetError(f"file not found: {path}")
    with open(path, newline="") as handle:
        lines = [line for line in handle if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(lines, delimiter="\t")
    reader.fieldnames = [c.strip() for c in reader.fieldnames or []]
    try:
        return check_rows(list(reader), path.resolve().parent)
    except SampleSheetError as error:
        raise error.in_sheet(str(path)) from None


def check_labels(records: dict[str, SlideRecord], column: str, classes: list[str], sheet: str | None) -> dict[str, str]:
    """slide -> label of every record, each one of `classes`; a missing or unknown label names its row."""
    labels = {}
    for slide, record in records.items():
        value = record.value(column)
        if value is None:
            raise SampleSheetError(
                f"slide '{slide}' has no label, and a training task needs one (or run targets "
                "that need no labels: download, masks, tiles, features, export)",
                record.row,
                column,
                sheet,
            )
        if value not in classes:
            raise SampleSheetError(
                f"label '{value}' of slide '{slide}' is not one of {classes}", record.row, column, sheet
            )
        labels[slide] = value
    return labels

"""Sample sheet checks: every bad case names its row and column."""

from pathlib import Path

import pandas as pd
import pytest

from slidesnake.core.errors import SampleSheetError
from slidesnake.workflow.sheet import check_labels, read_sheet

CLASSES = ["normal", "tumor"]


def write_sheet(folder: Path, rows: list[dict], columns=None) -> Path:
    path = folder / "samples.tsv"
    pd.DataFrame(rows, columns=columns).to_csv(path, sep="\t", index=False)
    return path


@pytest.fixture
def slides(tmp_path):
    for name in ("a.svs", "b.tiff"):
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def good_rows():
    return [
        {"slide_id": "A-1", "source": "a.svs", "label": "tumor", "patient_id": "P1"},
        {"slide_id": "B.2", "source": "b.tiff", "label": "normal", "patient_id": ""},
    ]


def expect_error(folder, rows, row, column, fragment, columns=None, labels=True):
    """The sheet (or, with `labels`, its label check for a task) fails naming the user's file, row and column."""
    path = write_sheet(folder, rows, columns)
    with pytest.raises(SampleSheetError) as info:
        records = read_sheet(path)
        if labels:
            check_labels(records, "label", CLASSES, str(path))
    message = str(info.value)
    assert message.startswith(f"sample sheet {path}"), message
    if row is not None:
        assert f"row {row}" in message, message
    if column is not None:
        assert f"column '{column}'" in message, message
    assert fragment in message, message
    return message


def test_good_sheet_is_normalised(slides):
    sheet = read_sheet(write_sheet(slides, good_rows()))
    assert list(sheet) == ["A-1", "B.2"]
    assert sheet["B.2"].patient_id == "B.2"  # defaults to slide_id
    assert sheet["A-1"].source == str((slides / "a.svs").resolve())
    assert sheet["A-1"].ext == "svs" and sheet["B.2"].ext == "tiff"
    assert sheet["A-1"].source_kind == "path" and sheet["A-1"].value("label") == "tumor"
    assert check_labels(sheet, "label", CLASSES, None) == {"A-1": "tumor", "B.2": "normal"}


def test_urls_and_file_urls(slides):
    rows = [
        {"slide_id": "u", "source": "https://example.org/x/slide.svs?download=1", "label": "tumor"},
        {
            "slide_id": "f",
            "source": f"file://{slides / 'a.svs'}",
            "label": "normal",
            "md5": "0123456789abcdef0123456789ABCDEF",
            "mpp": "0.25",
        },
    ]
    sheet = read_sheet(write_sheet(slides, rows))
    assert sheet["u"].source_kind == "url" and sheet["u"].ext == "svs"
    assert sheet["f"].source_kind == "path"
    assert sheet["f"].md5 == "0123456789abcdef0123456789abcdef"
    assert sheet["f"].mpp == 0.25


def test_empty_sheet(slides):
    expect_error(slides, [], None, None, "no rows", columns=["slide_id", "source"], labels=False)


def test_duplicate_slide_id(slides):
    rows = good_rows()
    rows[1]["slide_id"] = "A-1"
    expect_error(slides, rows, 2, "slide_id", "duplicate slide_id 'A-1' (first in row 1)")


@pytest.mark.parametrize("bad", ["a/b", "a b", "a:b", "é"])
def test_slide_id_characters(slides, bad):
    rows = good_rows()
    rows[1]["slide_id"] = bad
    expect_error(slides, rows, 2, "slide_id", "may only use letters")


def test_missing_local_file(slides):
    rows = good_rows()
    rows[0]["source"] = "missing.svs"
    expect_error(slides, rows, 1, "source", "does not exist")


@pytest.mark.parametrize("url", ["ftp://host/a.svs", "s3://bucket/a.svs"])
def test_unsupported_scheme(slides, url):
    rows = good_rows()
    rows[1]["source"] = url
    expect_error(slides, rows, 2, "source", "unsupported URL scheme")


def test_malformed_md5(slides):
    rows = good_rows()
    rows[0]["md5"] = "abc123"
    expect_error(slides, rows, 1, "md5", "not a 32-digit hexadecimal md5")


def test_label_missing_where_training_needs_one(slides):
    rows = good_rows()
    rows[1]["label"] = ""
    expect_error(slides, rows, 2, "label", "has no label")
    # the sheet itself is fine: only the targets that train check labels
    assert read_sheet(write_sheet(slides, rows))["B.2"].value("label") is None


def test_sheet_without_label_column(slides):
    rows = [{k: v for k, v in row.items() if k != "label"} for row in good_rows()]
    assert len(read_sheet(write_sheet(slides, rows))) == 2
    expect_error(slides, rows, 1, "label", "has no label")


def test_label_outside_task_classes(slides):
    rows = good_rows()
    rows[0]["label"] = "Tumour"
    expect_error(slides, rows, 1, "label", "not one of")


def test_mpp_not_a_number(slides):
    rows = good_rows()
    rows[1]["mpp"] = "fast"
    expect_error(slides, rows, 2, "mpp", "not a number")


def test_missing_required_column(slides):
    expect_error(slides, [{"slide_id": "a"}], None, None, "missing required column(s): source", labels=False)


def test_unknown_slide_format(slides):
    (slides / "c.jpg").write_bytes(b"x")
    rows = good_rows() + [{"slide_id": "c", "source": "c.jpg", "label": "tumor"}]
    expect_error(slides, rows, 3, "source", "cannot tell the slide format")


def test_missing_annotation_file(slides):
    rows = good_rows()
    rows[0]["annotation"] = "nowhere.png"
    expect_error(slides, rows, 1, "annotation", "does not exist")

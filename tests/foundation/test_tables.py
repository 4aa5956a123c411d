"""Rows as tables: aligned text, CSV and JSON for the CLI, a DataFrame for notebooks."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import namedtuple
from dataclasses import dataclass

import pytest

from labkit import LabkitError
from labkit.tables import as_dicts, format_rows, to_frame

pytestmark = pytest.mark.unit


@dataclass
class Row:
    """A table row as the jobs return them."""

    name: str
    count: int
    tags: tuple[str, ...] = ()
    note: str | None = None


ROWS = [Row("alpha", 1, ("a", "b")), Row("a-much-longer-name", 22, (), "seen")]


def test_dataclasses_dicts_and_named_tuples_become_the_same_dicts():
    pair = namedtuple("Pair", "name count")
    expected = [{"name": "alpha", "count": 1}]
    assert as_dicts([{"name": "alpha", "count": 1}]) == expected
    assert as_dicts([pair("alpha", 1)]) == expected
    assert list(as_dicts(ROWS)[0]) == ["name", "count", "tags", "note"]
    with pytest.raises(TypeError):
        as_dicts(["a string is no row"])


def test_text_table_aligns_every_column_under_its_header():
    lines = format_rows(ROWS, "table").splitlines()
    assert len(lines) == 4 and set(lines[1]) <= {"-", " "}
    starts = [i for i, ch in enumerate(lines[1]) if ch == "-" and (i == 0 or lines[1][i - 1] == " ")]
    for column, start in zip(["name", "count", "tags", "note"], starts, strict=True):
        assert lines[0][start:].startswith(column)
    assert lines[2][starts[2]:].startswith("a, b") and lines[3][starts[3]:] == "seen"


def test_csv_and_json_read_back_as_the_rows():
    text = format_rows(ROWS, "csv")
    assert list(csv.DictReader(io.StringIO(text)))[1] == {"name": "a-much-longer-name", "count": "22", "tags": "",
                                                           "note": "seen"}
    out = format_rows(ROWS, "json", columns=["count", "name"])
    assert out.endswith("]\n")  # a shell prompt never lands on the last line
    assert json.loads(out) == [{"count": 1, "name": "alpha"}, {"count": 22, "name": "a-much-longer-name"}]


def test_a_dataframe_prints_like_its_rows():
    frame = to_frame(ROWS)
    assert list(frame.columns) == ["name", "count", "tags", "note"] and frame["count"].tolist() == [1, 22]
    assert format_rows(frame, "csv") == format_rows(ROWS, "csv")  # a missing value is empty, never "nan"
    assert json.loads(format_rows(frame, "json"))[0]["note"] is None  # and null in JSON, never NaN


def test_an_unknown_format_is_a_labkit_error_naming_the_choices():
    with pytest.raises(LabkitError, match="unknown table format 'xml': use table, csv or json"):
        format_rows(ROWS, "xml")


def _frame():
    import numpy as np
    import pandas as pd

    return pd.DataFrame({
        "name": ["a", "b", None],
        "count": [1.0, np.nan, 3.0],            # whole numbers that became floats through a blank
        "ratio": [0.123456, 1 / 3, 0.0001],
        "wait_days": [1.26, 2.0, None],
        "when": pd.to_datetime(["2024-01-02 10:11:12", None, "2024-03-04 00:00:00"]),
        "tags": [["x", "y"], [], None],
        "fix": ["apt-get install -y qemu-system-x86 ovmf " * 4, "", np.nan],
    })


def test_clean_applies_the_convention():
    from labkit.tables import clean

    out = clean(_frame())
    assert list(out.columns) == ["name", "count", "ratio", "wait_days", "when", "tags", "fix"]  # no index column
    assert out.to_dict("records")[1] == {"name": "b", "count": "", "ratio": "0.33", "wait_days": "2.0", "when": "",
                                         "tags": "", "fix": ""}
    assert out["count"].tolist() == ["1", "", "3"]
    assert out["ratio"].tolist() == ["0.12", "0.33", "0.0001"]  # tiny, not 0.00
    assert out["wait_days"].tolist() == ["1.3", "2.0", ""]
    assert out["when"].tolist() == ["2024-01-02 10:11", "", "2024-03-04 00:00"]
    assert out["tags"][0] == "x, y" and out["fix"][0].count("qemu-system-x86") == 4  # never cut
    for cell in out.to_numpy().ravel():
        assert cell not in ("nan", "NaN", "NaT", "None", "<NA>")


def test_an_index_shows_only_when_it_means_something():
    import pandas as pd

    from labkit.tables import clean

    frame = _frame()
    assert "index" not in clean(frame[frame["ratio"] > 0.1]).columns  # row positions left by a filter
    described = clean(frame[["count", "ratio"]].describe())
    assert described.columns[0] == "" and described.iloc[:, 0].tolist()[:3] == ["count", "mean", "std"]
    counts = clean(pd.Series(["x", "y", "x"], name="n").value_counts())
    assert counts.to_dict("records") == [{"n": "x", "count": "2"}, {"n": "y", "count": "1"}]


def test_html_wraps_text_columns_in_full_escapes_and_scrolls_sideways():
    from labkit.tables import clean, column_kinds, html

    frame = _frame()
    frame.loc[0, "name"] = "<b>not bold</b>"
    page = html(frame)
    assert page.startswith('<div class="labkit-table" style="overflow-x:auto')
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page and "<b>not bold" not in page
    assert 'class="labkit-text" style="' in page and "white-space:pre-wrap" in page
    assert "text-overflow" not in page and "overflow:hidden" not in page
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", page)
    assert len(cells) == 3 * 7 and not {"nan", "NaN", "NaT", "None"} & set(cells)
    assert column_kinds(clean(frame)) == {"name": "short", "count": "num", "ratio": "num", "wait_days": "num",
                                          "when": "short", "tags": "short", "fix": "text"}


def test_a_long_table_is_paginated_and_searchable_with_the_bundle_inside():
    import labkit.tables as tables

    rows = [{"key": f"DEMO-{i}", "detail": "why " * 30, "score": i / 7} for i in range(45)]
    first = tables.html(rows, init=True)
    assert "dt_src_b64" not in first and "injectModule" in first  # the DataTables bundle itself, inline
    assert "unpkg" not in first.split("injectModule", 1)[1] and "https://cdn" not in first
    later = tables.html(rows, init=False)
    assert '"pageLength": 20' in later and "labkit-text" in later and "injectModule" not in later
    assert "DEMO-44" in later  # every row is in the page, none dropped by downsampling
    assert len(tables.html(rows[:20])) < len(later) and "<table class=\"dataframe labkit\"" in tables.html(rows[:20])


def test_text_and_csv_follow_the_convention_and_csv_keeps_full_precision():
    frame = _frame()
    text = format_rows(frame, "table")
    assert not re.search(r"\b(nan|NaN|NaT|None)\b", text)
    assert "0.12" in text and "0.123456" not in text and "2024-01-02 10:11" in text
    csv_text = format_rows(frame, "csv")
    assert "0.123456" in csv_text and "2024-01-02T10:11:12" in csv_text and ",nan" not in csv_text.lower()

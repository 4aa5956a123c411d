"""Rows as tables: aligned text, CSV and JSON for the CLI, a DataFrame for notebooks."""

from __future__ import annotations

import csv
import io
import json
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

"""Rows (dataclasses or dicts) as tables: a DataFrame for notebooks, text/csv/json for the CLI."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any


def as_dicts(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Turn dataclass instances, dicts or named tuples into plain dicts (column order kept)."""
    out = []
    for r in rows:
        if dataclasses.is_dataclass(r) and not isinstance(r, type):
            out.append({f.name: getattr(r, f.name) for f in dataclasses.fields(r)})
        elif isinstance(r, dict):
            out.append(dict(r))
        elif hasattr(r, "_asdict"):
            out.append(r._asdict())
        else:
            raise TypeError(f"cannot make a table row of {type(r).__name__}")
    return out


def to_frame(rows: Iterable[Any], columns: Sequence[str] | None = None):  # -> pandas.DataFrame
    """Return the rows as a pandas DataFrame (pandas is imported only here)."""
    import pandas as pd

    if hasattr(rows, "to_frame") and not isinstance(rows, list):
        return rows.to_frame()
    dicts = as_dicts(rows)
    return pd.DataFrame(dicts, columns=list(columns) if columns else (list(dicts[0]) if dicts else None))


def _cell(v: Any) -> str:
    """Render one value as table text (lists joined, None empty)."""
    if v is None:
        return ""
    if isinstance(v, (list, tuple, set)):
        return ", ".join(_cell(x) for x in v)
    return str(v)


def format_rows(rows: Iterable[Any], fmt: str = "table", columns: Sequence[str] | None = None) -> str:
    """Render rows as an aligned text table, CSV or JSON (no pandas needed)."""
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # a DataFrame
        dicts = rows.astype(object).where(rows.notna(), None).to_dict(orient="records")  # NaN/NA/NaT: empty
        columns = columns or list(rows.columns)
    else:
        dicts = as_dicts(rows)
    cols = list(columns) if columns else (list(dicts[0]) if dicts else [])
    if fmt == "json":
        return json.dumps([{c: d.get(c) for c in cols} for d in dicts], indent=2, default=str) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        for d in dicts:
            w.writerow([_cell(d.get(c)) for c in cols])
        return buf.getvalue()
    if fmt != "table":
        from labkit.errors import LabkitError

        raise LabkitError(f"unknown table format {fmt!r}", hint="use table, csv or json")
    cells = [[_cell(d.get(c)) for c in cols] for d in dicts]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines) + "\n"

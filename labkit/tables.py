"""The one table convention for runbooks, forms and the CLI: rows in, a readable table out.

    from labkit import tables
    tables.show(rows)                 # in a notebook or a form's Output: the table, readable
    tables.html(frame)                # the same as an HTML string
    tables.clean(frame)               # the same as a DataFrame of display text
    tables.format_rows(rows, "table") # the CLI's text, CSV or JSON

The convention, applied everywhere by :func:`cell_text` and :func:`clean`:

- no index column unless it means something (a default 0..n-1 index is dropped, any other
  becomes a real column);
- blanks for NaN, NaT, None and pandas' NA, never the words;
- floats rounded to what the column means (:func:`decimals_for`): whole numbers without a
  point, percentages and durations to one decimal, everything else to two, a tiny value to
  two significant digits rather than 0.00;
- lists and sets joined with ", ", dicts as ``key=value``; dates as ``YYYY-MM-DD HH:MM``;
- long text columns (fix, advice, detail, command, message, hint, reason: :data:`TEXT_WORDS`)
  wrap in full and are never cut, other long text wraps too, short values stay on one line;
- a wide table scrolls sideways inside its own box; a table longer than :data:`PAGE_ROWS` rows
  is paginated and searchable (itables, whose DataTables bundle ships inside its wheel and is
  embedded in the output, so it works with no network).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import html as html_lib
import io
import json
import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Words in a column name that make it a long-text column: wrapped in full, never cut.
TEXT_WORDS = frozenset({"fix", "fixes", "advice", "detail", "details", "command", "commands", "message",
                        "messages", "hint", "hints", "reason", "reasons"})
PAGE_ROWS = 20  # longer tables are paginated and searchable
LONG_TEXT = 40  # characters: a column with a longer value may wrap
_ONE_DECIMAL = frozenset({"pct", "percent", "percentage", "share", "s", "sec", "secs", "seconds", "ms",
                          "duration", "days", "day", "hours", "h", "minutes", "min", "weeks", "gb", "mb",
                          "kb", "gib", "mib"})
_WORD = re.compile(r"[a-z0-9]+")


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


def _words(name: Any) -> list[str]:
    """Return the lower-case words of a column name (``fix_command`` -> fix, command)."""
    return _WORD.findall(str(name).lower())


def is_text_column(name: Any) -> bool:
    """Tell whether a column holds long text that must wrap in full (its name has a word of TEXT_WORDS)."""
    return any(w in TEXT_WORDS for w in _words(name))


def text_columns(columns: Iterable[Any]) -> list[Any]:
    """Return the long-text columns among ``columns``."""
    return [c for c in columns if is_text_column(c)]


def _missing(v: Any) -> bool:
    """Tell whether a value is a blank: None, NaN, NaT or pandas' NA (without importing pandas)."""
    if v is None:
        return True
    if isinstance(v, float):
        return math.isnan(v)
    name = type(v).__name__
    if name in ("NaTType", "NAType"):
        return True
    if isinstance(v, numbers.Real) and not isinstance(v, (bool, numbers.Integral)):
        try:
            return math.isnan(float(v))
        except (TypeError, ValueError):
            return False
    return False


def decimals_for(name: Any, values: Iterable[Any] = ()) -> int:
    """Return the decimals a float column shows: 0 when every value is whole, 1 for percentages and durations, else 2."""
    floats = [float(v) for v in values if isinstance(v, numbers.Real) and not isinstance(v, bool) and not _missing(v)]
    if floats and all(f.is_integer() for f in floats):
        return 0
    return 1 if any(w in _ONE_DECIMAL for w in _words(name)) else 2


def _number_text(v: float, decimals: int) -> str:
    """Round a float for reading; a tiny non-zero value keeps two significant digits instead of showing 0."""
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    text = f"{v:.{decimals}f}"
    if v != 0 and float(text) == 0:
        return f"{v:.2g}"
    return text


def _duration_text(seconds: float) -> str:
    """Return a duration as ``3d 04:05:06`` or ``04:05:06``."""
    sign = "-" if seconds < 0 else ""
    total = int(round(abs(seconds)))
    days, rest = divmod(total, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    clock = f"{h:02d}:{m:02d}:{s:02d}"
    return f"{sign}{days}d {clock}" if days else f"{sign}{clock}"


def cell_text(v: Any, decimals: int | None = None, *, date_only: bool = False) -> str:
    """Render one value as table text by the convention (blanks, rounding, joined lists, short dates)."""
    if _missing(v):
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        f = float(v)
        return _number_text(f, decimals if decimals is not None else decimals_for("", [f]))
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d") if date_only else v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return _duration_text(v.total_seconds())
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", errors="replace")
    if isinstance(v, Mapping):
        return ", ".join(f"{k}={cell_text(x, decimals)}" for k, x in v.items())
    if isinstance(v, (set, frozenset)):
        return ", ".join(sorted(cell_text(x, decimals) for x in v))
    if isinstance(v, (list, tuple)) or type(v).__name__ == "ndarray":
        return ", ".join(cell_text(x, decimals) for x in v)
    return str(v)


def _column_texts(name: Any, values: list[Any], decimals: int | None) -> list[str]:
    """Render one column's values with the column's rounding and date style."""
    d = decimals if decimals is not None else decimals_for(name, values)
    stamps = [v for v in values if isinstance(v, dt.datetime) and not _missing(v)]
    date_only = bool(stamps) and all((v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0) for v in stamps)
    return [cell_text(v, d, date_only=date_only) for v in values]


def _frame(data: Any, columns: Sequence[str] | None = None):
    """Return ``data`` (a DataFrame, Series, rows, or an object with ``to_frame``) as a DataFrame."""
    import pandas as pd

    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, pd.DataFrame):
        return data[list(columns)] if columns else data
    return to_frame(list(data) if not hasattr(data, "to_frame") else data, columns)


def _meaningful_index(frame) -> bool:
    """Tell whether a DataFrame's index says something: named, or not plain integers left from row positions."""
    idx = frame.index
    if any(n is not None for n in idx.names):
        return True
    return idx.nlevels > 1 or idx.dtype.kind not in "iu"


def clean(data: Any, columns: Sequence[str] | None = None, *, decimals: int | Mapping[str, int] | None = None,
          index: bool | None = None):  # -> pandas.DataFrame of str
    """Return the table as a DataFrame of display text by the convention (see the module doc).

    ``decimals`` overrides the rounding (one number, or per column); ``index=True`` keeps the
    index as a column, ``False`` drops it, ``None`` keeps it only when it means something.
    """
    import pandas as pd

    frame = _frame(data, columns)
    keep = _meaningful_index(frame) if index is None else index
    if keep:
        frame = frame.rename_axis([n if n is not None else "" for n in frame.index.names])
        frame = frame.reset_index(allow_duplicates=True)
    labels = [" / ".join(str(p) for p in c if str(p)) if isinstance(c, tuple) else str(c) for c in frame.columns]
    texts = []
    for i, label in enumerate(labels):
        values = [None if v is pd.NaT else (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
                  for v in frame.iloc[:, i].astype(object).tolist()]
        d = decimals.get(label) if isinstance(decimals, Mapping) else decimals
        texts.append(_column_texts(label, values, d))
    result = pd.DataFrame(dict(enumerate(texts)), index=range(len(frame)), dtype=object)
    result.columns = labels
    return result


def _numeric(frame) -> set[str]:
    """Return the columns of a table whose every non-blank value reads as a number."""
    found = set()
    for c in frame.columns:
        vals = [v for v in frame[c] if v != ""]
        if vals and all(re.fullmatch(r"-?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?|-?inf", v) for v in vals):
            found.add(c)
    return found


_BASE_CELL = "padding:0.25em 0.6em;vertical-align:top;border-bottom:1px solid #e0e0e0;"
_STYLES = {
    "text": "white-space:pre-wrap;overflow-wrap:anywhere;min-width:18em;max-width:60em;text-align:left;",
    "long": "white-space:normal;overflow-wrap:anywhere;min-width:12em;max-width:40em;text-align:left;",
    "num": "white-space:nowrap;text-align:right;",
    "short": "white-space:nowrap;text-align:left;",
}
_CSS = ("table.labkit td.labkit-text{" + _STYLES["text"] + "}"
        "table.labkit td.labkit-long{" + _STYLES["long"] + "}"
        "table.labkit td.labkit-num{" + _STYLES["num"] + "}"
        "table.labkit td.labkit-short{" + _STYLES["short"] + "}"
        "table.labkit th{text-align:left;white-space:nowrap}")


def column_kinds(frame) -> dict[str, str]:
    """Return each column's layout: text (wraps in full), long (may wrap), num (right, one line) or short."""
    nums = _numeric(frame)
    kinds = {}
    for c in frame.columns:
        if is_text_column(c):
            kinds[c] = "text"
        elif c in nums:
            kinds[c] = "num"
        elif any(len(v) > LONG_TEXT for v in frame[c]):
            kinds[c] = "long"
        else:
            kinds[c] = "short"
    return kinds


def _plain_html(frame, caption: str | None) -> str:
    """Return a cleaned table as an HTML table whose every cell shows in full, in a box that scrolls sideways."""
    esc = html_lib.escape
    kinds = column_kinds(frame)
    head = "".join(f'<th style="{_BASE_CELL}text-align:left;white-space:nowrap">{esc(str(c))}</th>'
                   for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False, name=None):
        cells = "".join(f'<td class="labkit-{kinds[c]}" style="{_BASE_CELL}{_STYLES[kinds[c]]}">{esc(v)}</td>'
                        for c, v in zip(frame.columns, row, strict=True))
        body.append(f"<tr>{cells}</tr>")
    cap = f'<caption style="caption-side:top;text-align:left">{esc(caption)}</caption>' if caption else ""
    return ('<div class="labkit-table" style="overflow-x:auto;max-width:100%">'
            '<table class="dataframe labkit" style="table-layout:auto;border-collapse:collapse;width:auto;margin:0">'
            f'{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


_itables_sent = False


def itables_init_html() -> str:
    """Return the HTML that loads itables' DataTables bundle from the output itself (no network)."""
    from itables import options
    from itables.javascript import generate_init_offline_itables_html

    return generate_init_offline_itables_html(options.dt_bundle)


def _paged_html(frame, caption: str | None, page_rows: int, init: bool | None) -> str:
    """Return a long cleaned table as a paginated, searchable itables table (offline bundle on first use)."""
    global _itables_sent
    from itables import to_html_datatable

    kinds = column_kinds(frame)
    defs = [{"targets": [i for i, c in enumerate(frame.columns) if kinds[c] == k], "className": f"labkit-{k}"}
            for k in ("text", "long", "num", "short")]
    table = to_html_datatable(frame, caption=caption, connected=False, maxBytes=0, maxColumns=0, showIndex=False,
                              classes="display compact dataframe labkit", pageLength=page_rows,
                              lengthMenu=sorted({page_rows, 50, 100, 500}), allow_html=False,
                              style="table-layout:auto;width:auto;margin:0;caption-side:top", css=_CSS,
                              columnDefs=[d for d in defs if d["targets"]], display_logo_when_loading=False,
                              order=[])
    prefix = ""
    if init or (init is None and not _itables_sent):
        prefix = itables_init_html()
        _itables_sent = True
    return f'{prefix}<div class="labkit-table" style="overflow-x:auto;max-width:100%">{table}</div>'


def html(data: Any, columns: Sequence[str] | None = None, *, decimals: int | Mapping[str, int] | None = None,
         index: bool | None = None, caption: str | None = None, page_rows: int = PAGE_ROWS,
         init: bool | None = None) -> str:
    """Return the table as HTML by the convention: plain up to ``page_rows`` rows, paginated and searchable past it.

    ``init`` embeds itables' bundle in this output (default: in the first paginated table of the process).
    """
    frame = clean(data, columns, decimals=decimals, index=index)
    if len(frame) > page_rows:
        return _paged_html(frame, caption, page_rows, init)
    return _plain_html(frame, caption)


class Table:
    """A table that notebooks and Output widgets display by the convention (``_repr_html_``)."""

    def __init__(self, data: Any, columns: Sequence[str] | None = None, **options: Any) -> None:
        """Hold the data and the options of :func:`html`."""
        self.data, self.columns, self.options = data, columns, options

    def _repr_html_(self) -> str:
        """Return the table's HTML."""
        return html(self.data, self.columns, **self.options)

    def __repr__(self) -> str:
        """Return the table as aligned text (for terminals and text-only outputs)."""
        return format_rows(clean(self.data, self.columns, decimals=self.options.get("decimals"),
                                 index=self.options.get("index")), "table")


def show(data: Any, columns: Sequence[str] | None = None, **options: Any) -> None:
    """Display the table in the running notebook or form Output by the convention (options as :func:`html`)."""
    from IPython.display import display

    display(Table(data, columns, **options))


def install() -> None:
    """Make every DataFrame and Series a notebook displays follow the convention (for runbooks; idempotent)."""
    import pandas as pd
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["text/html"]
    formatter.for_type(pd.DataFrame, lambda df: html(df))
    formatter.for_type(pd.Series, lambda s: html(s))


def _csv_cell(v: Any) -> str:
    """Render one value for CSV: blanks and joined lists as in tables, numbers and times at full precision."""
    if _missing(v):
        return ""
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return cell_text(v)


def format_rows(rows: Iterable[Any], fmt: str = "table", columns: Sequence[str] | None = None) -> str:
    """Render rows as an aligned text table, CSV or JSON (text by the convention; JSON keeps the values)."""
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # a DataFrame
        dicts = rows.astype(object).where(rows.notna(), None).to_dict(orient="records")  # NaN/NA/NaT: empty
        columns = columns or list(rows.columns)
    else:
        dicts = as_dicts(rows)
    cols = list(columns) if columns else (list(dicts[0]) if dicts else [])
    if fmt == "json":
        return json.dumps([{c: d.get(c) for c in cols} for d in dicts], indent=2, default=str) + "\n"
    if fmt not in ("csv", "table"):
        from labkit.errors import LabkitError

        raise LabkitError(f"unknown table format {fmt!r}", hint="use table, csv or json")
    if fmt == "csv":  # for programs: full precision, blanks and joined lists only
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        w.writerows([[_csv_cell(d.get(c)) for c in cols] for d in dicts])
        return buf.getvalue()
    texts = {c: _column_texts(c, [d.get(c) for d in dicts], None) for c in cols}
    cells = [[texts[c][i] for c in cols] for i in range(len(dicts))]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines) + "\n"

"""Date operands of JQL for the local store: absolute dates, relative offsets (-1w 2d) and date functions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from labkit.jira.errors import JqlError

_ABS = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?\Z")
_REL = re.compile(r"([-+]?)\s*((?:\d+\s*[yMwdhm]\s*)+)\Z")
_PART = re.compile(r"(\d+)\s*([yMwdhm])")
_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}


def iso(dt: datetime) -> str:
    """Format a datetime as the store's sortable UTC text (``YYYY-MM-DDTHH:MM:SS``)."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


def normalise(value: str | None) -> str | None:
    """Turn a Jira REST timestamp (``2016-02-03T23:55:46.000+0000``) or date into store text in UTC."""
    if not value:
        return None
    if len(value) >= 24 and value.endswith("+0000"):
        return value[:19]
    if len(value) == 10:
        return value + "T00:00:00"
    try:
        return iso(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        try:
            return iso(datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z"))
        except ValueError:
            return None


def _add_months(dt: datetime, months: int) -> datetime:
    """Add months, clamping the day to the month's length."""
    y, m = divmod(dt.month - 1 + months, 12)
    year, month = dt.year + y, m + 1
    import calendar

    day = min(dt.day, calendar.monthrange(year, month)[1])
    return dt.replace(year=year, month=month, day=day)


def shift(dt: datetime, text: str, clause: str = "") -> datetime:
    """Move a datetime by a Jira offset like ``-1w 2d``, ``+3M``, ``-1`` (a bare number in the function's unit)."""
    m = _REL.match(text.strip())
    if not m:
        raise JqlError(f"{text!r} is not a date offset in {clause}", hint="use e.g. -1w, -2d 4h, +1M")
    sign = -1 if m.group(1) == "-" else 1
    for num, unit in _PART.findall(m.group(2)):
        n = sign * int(num)
        if unit == "y":
            dt = _add_months(dt, 12 * n)
        elif unit == "M":
            dt = _add_months(dt, n)
        else:
            dt = dt + n * _UNITS[unit]
    return dt


def _start(dt: datetime, unit: str) -> datetime:
    """The start of the day, week (Sunday), month or year."""
    day = dt.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "Day":
        return day
    if unit == "Week":  # Jira weeks start on Sunday (default locale)
        return day - timedelta(days=(day.weekday() + 1) % 7)
    if unit == "Month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _next(dt: datetime, unit: str) -> datetime:
    """The same point one unit later."""
    if unit == "Day":
        return dt + timedelta(days=1)
    if unit == "Week":
        return dt + timedelta(weeks=1)
    if unit == "Month":
        return _add_months(dt, 1)
    return _add_months(dt, 12)


_FUNC = re.compile(r"(start|end)Of(Day|Week|Month|Year)\Z", re.I)
_UNIT_LETTER = {"Day": "d", "Week": "w", "Month": "M", "Year": "y"}


def function_date(name: str, args: tuple[str, ...], now: datetime, clause: str = "") -> datetime:
    """Evaluate ``now()``, ``currentLogin()`` or ``startOf/endOf Day|Week|Month|Year([inc])``."""
    if name.lower() in ("now", "currentlogin", "lastlogin"):
        return now
    m = _FUNC.match(name)
    if not m:
        raise JqlError(f"Function {name}() is not a date function the local store knows, in {clause}")
    edge, unit = m.group(1).lower(), m.group(2).capitalize()
    start = _start(now, unit)
    if args:
        inc = args[0].strip()
        if re.fullmatch(r"[-+]?\d+", inc):
            inc += _UNIT_LETTER[unit]
        start = _start(shift(start, inc, clause), unit)
    if edge == "start":
        return start
    return _next(start, unit) - timedelta(seconds=1)


def value_date(text: str, now: datetime, clause: str = "") -> datetime:
    """Evaluate a date value: ``2021-01-31``, ``"2021/01/31 10:00"``, ``-1w``, ``4d``."""
    t = text.strip()
    m = _ABS.match(t)
    if m:
        y, mo, d, hh, mm, ss = m.groups()
        try:
            return datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
        except ValueError as e:
            raise JqlError(f"{text!r} is not a valid date in {clause}") from e
    if _REL.match(t):
        return shift(now, t, clause)
    raise JqlError(f"{text!r} is not a date in {clause}",
                   hint='use "yyyy-MM-dd", "yyyy/MM/dd HH:mm", a period like -1w or a date function')

"""Options and printing shared by every job's command line (a leaf: job cli modules import it, not labkit.cli)."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable


def add_format_option(parser: argparse.ArgumentParser) -> None:
    """Give a command the shared ``--format table|csv|json`` option."""
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="output format (default: table)")


def print_rows(rows, fmt: str = "table", columns=None) -> None:
    """Print rows (dataclasses, dicts or a DataFrame) in the chosen format."""
    from labkit.tables import format_rows

    sys.stdout.write(format_rows(rows, fmt, columns))


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type for a whole number from ``low`` to ``high`` (a usage error outside)."""
    def parse(text: str) -> int:
        """Read one whole number in range."""
        try:
            value = int(text) if len(text) <= 20 else None
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number from {low} to {high}")
        return value

    return parse


def bounded_seconds(high: float) -> Callable[[str], float]:
    """Return an argparse type for a number of seconds above 0 and at most ``high`` (a usage error otherwise)."""
    def parse(text: str) -> float:
        """Read one duration in range."""
        try:
            value = float(text) if len(text) <= 40 else math.nan
        except ValueError:
            value = math.nan
        if not 0 < value <= high:  # NaN fails every comparison
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number of seconds above 0 and at most {high:g}")
        return value

    return parse


def raise_for_failed(error: type[Exception], failed: list[str], total: int, noun: str, hint: str, *,
                     verb: str = "failed") -> None:
    """End a command whose printed table has failed rows with its one error line (``labkit: error: ...``, exit 1).

    ``error`` is the command's domain error (a ``LabkitError``); ``failed`` names the failed rows, of
    ``total``. Nothing is raised when none failed.
    """
    if not failed:
        return
    names = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
    raise error(f"{len(failed)} of {total} {noun} {verb}: {names}", hint=hint)

"""Options and printing shared by every job's command line (a leaf: job cli modules import it, not labkit.cli)."""

from __future__ import annotations

import argparse
import sys


def add_format_option(parser: argparse.ArgumentParser) -> None:
    """Give a command the shared ``--format table|csv|json`` option."""
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="output format (default: table)")


def print_rows(rows, fmt: str = "table", columns=None) -> None:
    """Print rows (dataclasses, dicts or a DataFrame) in the chosen format."""
    from labkit.tables import format_rows

    sys.stdout.write(format_rows(rows, fmt, columns))

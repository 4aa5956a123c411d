"""One-line notes that form cells print above a form (plain text, so they survive a saved notebook)."""

from __future__ import annotations

RERUN_NOTE = ("This form lives in the running kernel: if it shows \"Error displaying widget\" "
              "(a restarted kernel or a reopened notebook), re-run this cell.")


def rerun_note() -> None:
    """Print the one line telling the reader to re-run the form's cell in a fresh kernel."""
    print(RERUN_NOTE)

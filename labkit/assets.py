"""Find the browser-side files of labkit's custom widgets (``widgets/`` in the repo, ``labkit/widgets`` in a wheel)."""

from __future__ import annotations

from pathlib import Path

from labkit.errors import LabkitError

_HERE = Path(__file__).resolve().parent


def widget_file(name: str) -> Path:
    """Return the path of ``widgets/<name>`` whether labkit runs from a wheel or an editable checkout."""
    for base in (_HERE / "widgets", _HERE.parent / "widgets"):
        path = base / name
        if path.is_file():
            return path
    raise LabkitError(f"widget file {name} is missing from this labkit install",
                      hint="reinstall labkit (pip install -e .) so widgets/ is included")

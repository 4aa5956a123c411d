"""Defect 13 (vm): with ``--style modern`` a comma in the ISO path became extra qemu options.

qemu-options ("-drive"): options are comma-separated key=value pairs; "to use a comma in a file name, double it"
(e.g. ``file=my,,file``). ``--iso 'x.iso,if=none,file=/etc/shadow'`` used to render
``-drive file=x.iso,if=none,file=/etc/shadow,media=cdrom,...``: a second drive option pointing at /etc/shadow.
"""

from __future__ import annotations

import json
import shlex

import pytest

from labkit.cli import main

pytestmark = pytest.mark.unit

EVIL = "x.iso,if=none,file=/etc/shadow"


def split_qemu_options(text: str) -> list[tuple[str, str]]:
    """Read a qemu option string by the documented rule (',' separates, ',,' is one comma); the test's own parser."""
    parts, cur, i = [], "", 0
    while i < len(text):
        if text[i] == "," and text[i + 1:i + 2] == ",":
            cur, i = cur + ",", i + 2
        elif text[i] == ",":
            parts, cur, i = parts + [cur], "", i + 1
        else:
            cur, i = cur + text[i], i + 1
    return [tuple(p.split("=", 1)) if "=" in p else ("", p) for p in parts + [cur]]


@pytest.mark.parametrize("extra", [[], ["--disk-kind", "qcow2", "--disk-dir", "/srv/a,file=/etc/passwd"]])
def test_a_comma_in_a_path_never_becomes_a_qemu_option(tmp_path, monkeypatch, capsys, extra):
    monkeypatch.setenv("LABKIT_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "proc").mkdir()
    code = main(["vm", "plan", "alpha", "--style", "modern", "--show", "qemu", "--format", "json", "--iso", EVIL,
                 "--root", str(tmp_path), "--uri", "test:///default", *extra])
    out = capsys.readouterr().out
    assert code == 0
    argv = shlex.split(json.loads(out)[0]["command"])
    drives = [split_qemu_options(argv[i + 1]) for i, a in enumerate(argv) if a == "-drive"]
    files = [v for d in drives for k, v in d if k == "file"]
    assert "/etc/shadow" not in files and "/etc/passwd" not in files
    assert EVIL in files
    assert all(sum(k == "file" for k, _ in d) == 1 for d in drives)
    assert all(sum(k == "if" for k, _ in d) == 1 for d in drives)

"""Defect 13 (vm): ``--disk-gb 99999999999999999999999`` was accepted; absurd sizes are refused with one line."""

from __future__ import annotations

import pytest

from labkit.cli import main
from labkit.vm import Lab, VmError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("size", ["99999999999999999999999", "2048P", "1048577"])
def test_an_absurd_disk_size_is_one_line_exit_1(tmp_path, monkeypatch, capsys, size):
    monkeypatch.setenv("LABKIT_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "proc").mkdir()
    code = main(["vm", "plan", "alpha", "--disk-gb", size, "--root", str(tmp_path), "--uri", "test:///default"])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("labkit: error: ") and "larger than any disk" in err


@pytest.mark.parametrize("size", [10**23, "99999999999999999999999G", 2**63])
def test_an_absurd_disk_size_is_refused_in_python(size):
    lab = Lab()
    with pytest.raises(VmError, match="larger than any disk"):
        lab.plan_cloud("alpha", disk_gb=size)
    assert lab.clouds == {}


def test_the_largest_sane_size_is_still_accepted():
    assert Lab().plan_cloud("alpha", disk_gb="1P", disk_kind="qcow2").vms[0].disk.size_gb == 1024 * 1024

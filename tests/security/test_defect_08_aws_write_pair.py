"""Issue 15, defect 8: ``aws write`` replaces config and credentials as one pair and leaves no temp file.

Before the fix a write killed just before its last rename left the new config with the old
credentials for good, and its temporary files (the credentials one holding the secret) were
never removed. Now the next labkit write completes (or rolls back) the interrupted one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration

OLD_SECRET, NEW_SECRET = "old-secret-0123456789", "new-secret-9876543210"
# Writes profile lab (region, key, secret from argv) into the two files; with KILL_AT set, dies by SIGKILL
# just before os.replace renames a temporary over that file (the last rename of the pair).
CHILD = textwrap.dedent("""
    import os, signal, sys
    from labkit.aws import CloudProfile, write_profile
    from labkit.config import Secret
    kill_at = os.environ.get("KILL_AT")
    real = os.replace
    def replace(src, dst, *a, **kw):
        if kill_at and str(dst) == kill_at and ".labkit-tmp" in str(src):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst, *a, **kw)
    os.replace = replace
    cfg, cred, name, region, key, secret = sys.argv[1:7]
    write_profile(CloudProfile(name, region, endpoint_url="http://10.0.0.1:5000", access_key_id=key,
                               secret=Secret(secret, "test")), cfg, cred, dry_run=False)
""")


def _write(cfg: Path, cred: Path, name: str, region: str, key: str, secret: str, kill_at: Path | None = None):
    env = {**os.environ, "PYTHONPATH": os.environ.get("LABKIT_TEST_PYTHONPATH", str(REPO)),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}  # no keyring: plain keys, two files
    env.pop("KILL_AT", None)
    if kill_at:
        env["KILL_AT"] = str(kill_at)
    return subprocess.run([sys.executable, "-c", CHILD, str(cfg), str(cred), name, region, key, secret],
                          env=env, capture_output=True, text=True, timeout=120)


def _pair(cfg: Path, cred: Path, name: str) -> tuple[str, str]:
    from botocore.configloader import raw_config_parse

    return (raw_config_parse(str(cfg))[f"profile {name}"]["region"],
            raw_config_parse(str(cred))[name]["aws_access_key_id"])


def test_a_write_killed_before_its_last_rename_is_completed_by_the_next_write(tmp_path):
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    assert _write(cfg, cred, "lab", "old-region", "AKIDOLD", OLD_SECRET).returncode == 0
    assert _pair(cfg, cred, "lab") == ("old-region", "AKIDOLD")
    killed = _write(cfg, cred, "lab", "new-region", "AKIDNEW", NEW_SECRET, kill_at=cred)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # the next labkit write, of another profile, finds the half-done pair and completes it
    later = _write(cfg, cred, "other", "r2", "AKIDOTHER", "other-secret-000000")
    assert later.returncode == 0, later.stderr
    assert _pair(cfg, cred, "lab") == ("new-region", "AKIDNEW")
    assert _pair(cfg, cred, "other") == ("r2", "AKIDOTHER")
    left = [p.name for p in tmp_path.iterdir() if p.name.endswith((".labkit-tmp", ".labkit-journal"))]
    assert left == []
    holding = [p.name for p in tmp_path.iterdir() if NEW_SECRET in p.read_text(errors="replace")]
    assert holding == ["credentials"]  # the secret is in the credentials file and nowhere else


def test_a_write_killed_before_its_commit_leaves_the_old_pair_and_no_temp_file(tmp_path):
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    assert _write(cfg, cred, "lab", "old-region", "AKIDOLD", OLD_SECRET).returncode == 0
    old = (cfg.read_bytes(), cred.read_bytes())
    # killed while taking the backup of the config: the temporaries exist, nothing is committed
    killed = _write(cfg, cred, "lab", "new-region", "AKIDNEW", NEW_SECRET,
                    kill_at=cfg.with_name(cfg.name + ".labkit-backup"))
    assert killed.returncode == -signal.SIGKILL
    assert (cfg.read_bytes(), cred.read_bytes()) == old
    assert _write(cfg, cred, "other", "r2", "AKIDOTHER", "other-secret-000000").returncode == 0
    assert _pair(cfg, cred, "lab") == ("old-region", "AKIDOLD")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".labkit-tmp")]
    assert not [p for p in tmp_path.iterdir() if NEW_SECRET in p.read_text(errors="replace")]

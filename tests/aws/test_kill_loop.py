"""Issue 15 kill test for ``aws write``: killed at random points, the two files always parse and are old or new as a pair.

Each round runs a real write in a child process that SIGKILLs itself just before its K-th file-system
step (rename, fsync, chmod, unlink, open). The K of the rounds are every step of the write once, in
random order (so the kill just before the last rename is always among them), for a write of plain
keys, then random steps of a write that switches the profile to credential_process. Right after the kill
each file must parse as botocore reads it; after the next labkit write (of another profile) the pair
``config`` + ``credentials`` must be the old one or the new one for the killed profile, with no
temporary or journal file left and the new secret nowhere but where the new pair keeps it.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KILLS = 24
OLD_SECRET, NEW_SECRET = "old-secret-kill-0123456789", "new-secret-kill-9876543210"
CHILD = textwrap.dedent("""
    import os, signal, sys, tempfile
    from labkit.aws import CloudProfile, write_profile
    from labkit.config import Secret
    kill_step = int(os.environ.get("KILL_STEP", "0"))
    steps = 0
    def hook(fn):
        def wrapped(*a, **kw):
            global steps
            steps += 1
            if steps == kill_step:
                os.kill(os.getpid(), signal.SIGKILL)
            return fn(*a, **kw)
        return wrapped
    for name in ("replace", "fsync", "fchmod", "unlink", "open"):
        setattr(os, name, hook(getattr(os, name)))
    cfg, cred, name, region, key, secret, mode = sys.argv[1:8]
    os.environ["LAB_KILL_SECRET"] = secret
    ref = {"secret_env": "LAB_KILL_SECRET"} if mode == "process" else {"secret": Secret(secret, "test")}
    write_profile(CloudProfile(name, region, endpoint_url="http://10.0.0.1:5000", access_key_id=key,
                               credentials=mode, **ref), cfg, cred, dry_run=False)
    print(steps)
""")


def _run(cfg: Path, cred: Path, *args: str, kill_step: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
           "KILL_STEP": str(kill_step)}
    return subprocess.run([sys.executable, "-c", CHILD, str(cfg), str(cred), *args], env=env,
                          capture_output=True, text=True, timeout=120)


def _state(cfg: Path, cred: Path) -> tuple:
    """What the two files say about profile lab: (region, key id in credentials, credential_process key id)."""
    from botocore.configloader import raw_config_parse

    conf = raw_config_parse(str(cfg)).get("profile lab", {})
    keys = raw_config_parse(str(cred)).get("lab", {}) if cred.exists() else {}
    process = conf.get("credential_process", "")
    return (conf.get("region"), keys.get("aws_access_key_id"),
            "AKIDNEW" if "--access-key-id AKIDNEW" in process else None)


def _old_pair(d: Path) -> tuple[Path, Path]:
    """Make a directory holding the user's config and labkit's old profile lab (plain keys)."""
    d.mkdir()
    cfg, cred = d / "config", d / "credentials"
    cfg.write_text("# the user's own config\n[default]\nregion = us-east-1\n")
    assert _run(cfg, cred, "lab", "old-region", "AKIDOLD", OLD_SECRET, "keys").returncode == 0
    return cfg, cred


def test_killed_writes_leave_an_old_or_new_pair(tmp_path):
    rng = random.Random(20261126)
    plans, news, totals = [], {}, {}
    for mode in ("keys", "process"):  # an undisturbed write: how many steps, and what "new" looks like
        cfg, cred = _old_pair(tmp_path / f"count-{mode}")
        full = _run(cfg, cred, "lab", "new-region", "AKIDNEW", NEW_SECRET, mode)
        assert full.returncode == 0, full.stderr
        totals[mode], news[mode] = int(full.stdout.split()[-1]), _state(cfg, cred)
    steps = list(range(1, totals["keys"] + 1))
    rng.shuffle(steps)
    plans += [("keys", k) for k in steps] + [("process", rng.randint(1, totals["process"])) for _ in range(8)]
    while len(plans) < KILLS:
        mode = rng.choice(["keys", "process"])
        plans.append((mode, rng.randint(1, totals[mode])))
    kills = 0
    for round_no, (mode, step) in enumerate(plans):
        d = tmp_path / f"round{round_no}"
        cfg, cred = _old_pair(d)
        old, new, total = _state(cfg, cred), news[mode], totals[mode]
        killed = _run(cfg, cred, "lab", "new-region", "AKIDNEW", NEW_SECRET, mode, kill_step=step)
        assert killed.returncode in (-signal.SIGKILL, 0), killed.stderr
        kills += killed.returncode == -signal.SIGKILL
        _state(cfg, cred)  # right after the kill, each file parses
        after = _run(cfg, cred, "other", "r2", "AKIDOTHER", "other-secret-00000", "keys")
        assert after.returncode == 0, (step, after.stderr)
        assert _state(cfg, cred) in (old, new), (round_no, mode, step, total, _state(cfg, cred))
        left = [p.name for p in d.iterdir() if p.name.endswith((".labkit-tmp", ".labkit-journal"))]
        assert left == [], (step, left)
        holding = [p.name for p in d.iterdir() if p.is_file() and NEW_SECRET in p.read_text(errors="replace")]
        assert holding in ([], ["credentials"]), (step, holding)
        assert "# the user's own config\n[default]\nregion = us-east-1\n" in cfg.read_text()
    assert kills >= 20

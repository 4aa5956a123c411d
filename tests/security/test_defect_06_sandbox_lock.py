"""Defect 6: two ``labkit sandbox start`` at once in one run directory started two Jira and two forge servers.

The run directory is locked for a start or stop: the second start waits, finds the services
healthy and reuses them; one stop then leaves no process behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from tests.procs import processes_under
from tests.security.servers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_two_concurrent_starts_run_each_service_once(tmp_path):
    rd = tmp_path / "run"
    env = {**os.environ, "LABKIT_RUN_DIR": str(rd)}
    argv = [sys.executable, "-m", "labkit.cli", "sandbox", "start", "jira", "forge", "--format", "json"]
    try:
        both = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
        outs = [p.communicate(timeout=300) for p in both]
        assert [p.returncode for p in both] == [0, 0], [o[1] for o in outs]
        pids = [{row["service"]: row["pid"] for row in json.loads(out)} for out, _ in outs]
        assert pids[0]["jira"] == pids[1]["jira"] and pids[0]["forge"] == pids[1]["forge"]
        running = processes_under(rd)
        per_service = Counter(os.readlink(f"/proc/{pid}/cwd").rsplit("/", 1)[1] for pid in running
                              if os.getpgid(pid) == pid)
        assert per_service == Counter({"jira": 1, "forge": 1}), running
    finally:
        r = subprocess.run([sys.executable, "-m", "labkit.cli", "sandbox", "stop"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: not processes_under(rd), timeout=20), processes_under(rd)

"""Defect 5: ``labkit lab`` put the JupyterLab token on the command line, readable in /proc/PID/cmdline.

The token now reaches JupyterLab through a config file only its owner can read; the server still
refuses a request without it.
"""

from __future__ import annotations

import secrets
import signal
import sys
from pathlib import Path

import pytest

import labkit.sandbox as sb
from tests.lab_process import LabProcess, isolated_env
from tests.procs import processes_with_argument

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_lab_token_is_on_no_command_line(tmp_path):
    token = "tok" + secrets.token_hex(16)
    port = sb.free_port()
    env = isolated_env(tmp_path, LABKIT_LAB_TOKEN=token)
    lab = LabProcess([sys.executable, "-m", "labkit.cli", "lab", "--no-sandbox", "--port", str(port)],
                     env, port, token)
    try:
        lab.wait_ready()
        assert not processes_with_argument(token), processes_with_argument(token)
        assert lab.get("/api/contents", token=False)[0] == 403
        assert lab.get("/api/contents")[0] == 200
        config = Path(env["LABKIT_RUN_DIR"]) / "lab" / "jupyter_server_config.json"
        assert config.stat().st_mode & 0o077 == 0 and token in config.read_text()
    finally:
        code = lab.stop(signal.SIGTERM, group=False)
    assert code == 0, lab.output()[-2000:]
    assert not config.exists()  # the token file goes with the server

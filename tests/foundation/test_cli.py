"""The command line: exit codes, usage and formats."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


def run(*args):
    return subprocess.run([sys.executable, "-m", "labkit.cli", *args], capture_output=True, text=True, timeout=60)


def test_help_lists_sandbox_and_lab():
    r = run("--help")
    assert r.returncode == 0 and "sandbox" in r.stdout and "lab" in r.stdout


def test_usage_error_exits_2():
    r = run("sandbox", "explode")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_no_command_prints_help_and_exits_2():
    assert run().returncode == 2


def test_formats(tmp_path):
    import os

    env = {**os.environ, "LABKIT_RUN_DIR": str(tmp_path)}
    for fmt, probe in (("table", "service  state"), ("csv", "service,state,url,pid,description"), ("json", '"service": "aws"')):
        r = subprocess.run([sys.executable, "-m", "labkit.cli", "sandbox", "status", "--format", fmt],
                           capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 0 and probe in r.stdout

"""`labkit sandbox` starts real services on loopback and stops exactly what it started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import labkit.sandbox as sb
from labkit.errors import SandboxError

pytestmark = [pytest.mark.integration]


def labkit_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "labkit.cli", *args], capture_output=True, text=True,
                          env=env, timeout=180)


def test_start_status_stop_leaves_nothing_behind(run_dir):
    env = {**os.environ, "LABKIT_RUN_DIR": str(run_dir)}
    r = labkit_cli("sandbox", "start", "aws", "--format", "json", env=env)
    assert r.returncode == 0, r.stderr
    rows = {row["service"]: row for row in json.loads(r.stdout)}
    aws = rows["aws"]
    assert aws["state"] == "running" and aws["url"].startswith("http://127.0.0.1:")
    port = int(aws["url"].rsplit(":", 1)[1])
    pid = aws["pid"]
    assert sb.port_open(port)
    # the AWS stand-in really answers an AWS call
    import boto3

    ec2 = boto3.client("ec2", endpoint_url=aws["url"], region_name="partner01",
                       aws_access_key_id="AKIDLABKIT", aws_secret_access_key="x" * 20)
    assert ec2.describe_regions()["Regions"]
    # starting again is idempotent
    again = labkit_cli("sandbox", "start", "aws", "--format", "json", env=env)
    assert json.loads(again.stdout)[0]["pid"] == pid

    r = labkit_cli("sandbox", "stop", env=env)
    assert r.returncode == 0, r.stderr
    assert not sb.port_open(port)
    assert not sb.runner.pid_alive(pid)
    status = labkit_cli("sandbox", "status", "--format", "json", env=env)
    assert all(row["state"] == "stopped" for row in json.loads(status.stdout))


def test_stop_kills_the_whole_process_group(run_dir):
    (state,) = sb.start(["aws"])
    pgid = os.getpgid(state.pid)
    sb.stop()
    out = subprocess.run(["ps", "-eo", "pgid="], capture_output=True, text=True).stdout.split()
    assert str(pgid) not in out


def test_dead_service_is_reported_and_restarted(run_dir):
    (state,) = sb.start(["aws"])
    os.killpg(os.getpgid(state.pid), 9)
    for _ in range(200):  # the kill is asynchronous: wait (bounded) until the process is gone
        if not sb.runner.pid_alive(state.pid):
            break
        time.sleep(0.05)
    assert {r.service: r.state for r in sb.status()}["aws"] == "dead"
    (new,) = sb.start(["aws"])
    assert new.pid != state.pid and {r.service: r.state for r in sb.status()}["aws"] == "running"


def test_unknown_service_and_not_running_are_clear_errors(run_dir):
    with pytest.raises(SandboxError, match="no sandbox service named nope"):
        sb.start(["nope"])
    with pytest.raises(SandboxError, match="labkit sandbox start aws"):
        sb.url("aws")
    r = labkit_cli("sandbox", "start", "nope")
    assert r.returncode == 1 and r.stderr.startswith("labkit: error: no sandbox service named nope")
    assert "Traceback" not in r.stderr


def test_secrets_are_private_to_the_run_dir(run_dir):
    sb.start(["aws"])
    state_file = run_dir / "services.json"
    assert oct(state_file.stat().st_mode & 0o777) == "0o600"
    secret = sb.secret("aws")
    assert secret.reveal() and secret.reveal() not in repr(secret)
    assert secret.reveal() not in repr(sb.service("aws"))


def test_stop_of_an_unknown_service_is_a_clear_error(run_dir):
    with pytest.raises(SandboxError, match="no sandbox service named nope"):
        sb.stop(["nope"])
    r = labkit_cli("sandbox", "stop", "nope")
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("labkit: error: no sandbox service named nope")


def test_an_unusable_run_dir_is_one_line_and_exit_1(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    env = {**os.environ, "LABKIT_RUN_DIR": str(blocker / "run")}
    r = labkit_cli("sandbox", "start", "aws", env=env)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "LABKIT_RUN_DIR" in r.stderr
    assert blocker.read_text() == "not a directory\n"


def test_stop_never_kills_a_process_that_reused_a_recorded_pid(run_dir):
    other = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        record = {"aws": {"name": "aws", "pid": other.pid, "port": sb.free_port(), "url": "http://127.0.0.1:1",
                          "log": "", "started": 0.0, "argv": [sys.executable, "-m", "moto.server"]}}
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "services.json").write_text(json.dumps(record))
        assert sb.stop() == ["aws"]
        assert other.poll() is None
        assert {r.service: r.state for r in sb.status()}["aws"] == "stopped"
    finally:
        other.kill()
        other.wait()

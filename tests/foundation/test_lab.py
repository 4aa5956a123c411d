"""`labkit lab` starts the sandbox and a token-protected JupyterLab on 127.0.0.1 over the runbooks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import labkit.sandbox as sb
from tests.lab_process import LabProcess, isolated_env
from tests.procs import processes_under, processes_with_argument
from tests.security.servers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_lab_serves_the_runbooks_with_token_auth(run_dir, tmp_path):
    port, token = sb.free_port(), "t0k" + os.urandom(8).hex()
    env = {**os.environ, "LABKIT_RUN_DIR": str(run_dir), "LABKIT_LAB_TOKEN": token, "HOME": str(tmp_path),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "jc"), "JUPYTER_DATA_DIR": str(tmp_path / "jd"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "jr")}
    proc = subprocess.Popen([sys.executable, "-m", "labkit.cli", "lab", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={token}", timeout=2) as r:
                    listing = json.loads(r.read())
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()[-2000:]
                time.sleep(0.3)
        names = {item["name"] for item in listing["content"]}
        assert "00-welcome.ipynb" in names and "02-jql-search.ipynb" in names
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents", timeout=5)
        assert denied.value.code == 403
        assert listening_addresses(port) == {"127.0.0.1"}
        assert {r.service: r.state for r in sb.status()}["aws"] == "running"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_stopping_lab_stops_the_sandbox_it_started_and_its_kernels(tmp_path):
    port, token = sb.free_port(), "t0k" + os.urandom(8).hex()
    env = isolated_env(tmp_path, LABKIT_LAB_TOKEN=token)
    rd = Path(env["LABKIT_RUN_DIR"])
    lab = LabProcess([sys.executable, "-m", "labkit.cli", "lab", "--port", str(port)], env, port, token)
    try:
        lab.wait_ready()
        assert {r.service for r in sb.status(rd=rd) if r.state == "running"} >= {"aws", "jira", "forge"}
        # widget state is saved with the notebook, and the news pop-up never asks
        widgets = lab.settings("@jupyter-widgets/jupyterlab-manager:plugin")["schema"]["properties"]
        assert widgets["saveState"]["default"] is True  # the extension's own default is false
        news = lab.settings("@jupyterlab/apputils-extension:notification")["schema"]["properties"]
        assert news["fetchNews"]["default"] == "false"
        page = lab.get("/lab")[1]
        assert "@jupyterlab/apputils-extension:announcements" in page
        kernel = json.loads(_post(lab, "/api/kernels"))["id"]
        assert processes_under(rd), "the sandbox runs in the run directory"
        code = lab.stop(signal.SIGINT)  # Ctrl-C in the terminal: the whole foreground group
    except BaseException:
        lab.kill()
        sb.stop(rd=rd)
        raise
    out = lab.output()
    assert code == 0, out[-2000:]
    assert "sandbox stopped: aws, jira, forge" in out and "keeps running" not in out
    assert wait_for(lambda: not processes_under(rd)), processes_under(rd)
    assert not processes_with_argument(kernel), "the kernel outlived the lab"
    assert not processes_with_argument(f"--port={port}")


def test_keep_sandbox_says_how_to_stop_it(tmp_path):
    port, token = sb.free_port(), "t0k" + os.urandom(8).hex()
    env = isolated_env(tmp_path, LABKIT_LAB_TOKEN=token)
    rd = Path(env["LABKIT_RUN_DIR"])
    sb.start(["aws"], rd=rd)  # already running before the lab: never the lab's to stop
    lab = LabProcess([sys.executable, "-m", "labkit.cli", "lab", "--port", str(port), "--keep-sandbox"],
                     env, port, token)
    try:
        lab.wait_ready()
        code = lab.stop(signal.SIGTERM, group=False)
        out = lab.output()
        assert code == 0, out[-2000:]
        assert "sandbox keeps running: aws, jira, forge; stop it with: labkit sandbox stop" in out
        assert {r.service for r in sb.status(rd=rd) if r.state == "running"} == {"aws", "jira", "forge"}
    finally:
        lab.kill()
        sb.stop(rd=rd)
    assert wait_for(lambda: not processes_under(rd))


def test_a_sandbox_running_before_the_lab_keeps_running_after_it(tmp_path):
    port, token = sb.free_port(), "t0k" + os.urandom(8).hex()
    env = isolated_env(tmp_path, LABKIT_LAB_TOKEN=token)
    rd = Path(env["LABKIT_RUN_DIR"])
    (before,) = sb.start(["aws"], rd=rd)
    lab = LabProcess([sys.executable, "-m", "labkit.cli", "lab", "--port", str(port), "--no-sandbox"],
                     env, port, token)
    try:
        lab.wait_ready()
        assert lab.stop(signal.SIGINT) == 0
        assert "sandbox keeps running: aws; stop it with: labkit sandbox stop" in lab.output()
        assert sb.service("aws", rd=rd).pid == before.pid
    finally:
        lab.kill()
        sb.stop(rd=rd)


def _post(lab, path: str) -> str:
    req = urllib.request.Request(f"http://127.0.0.1:{lab.port}{path}", method="POST", data=b"{}",
                                 headers={"Authorization": f"token {lab.token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310 - loopback
        return r.read().decode()


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a TCP socket listening on ``port``, read from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, _, hexport = local.partition(":")
            if state == "0A" and int(hexport, 16) == port:  # 0A: LISTEN
                if len(addr) == 8:
                    found.add(".".join(str(int(addr[i:i + 2], 16)) for i in (6, 4, 2, 0)))
                else:
                    found.add("::" if set(addr) == {"0"} else addr)
    return found


@pytest.mark.parametrize("argv, words", [
    (["--port", "70000"], "port 70000 is not a TCP port"),
    (["--port", "0"], "port 0 is not a TCP port"),
    (["--notebooks", "{tmp}/none"], "no notebooks folder at {tmp}/none"),
])
def test_bad_options_are_one_line_and_start_nothing(run_dir, tmp_path, argv, words):
    env = {**os.environ, "LABKIT_RUN_DIR": str(run_dir)}
    r = subprocess.run([sys.executable, "-m", "labkit.cli", "lab", *[a.format(tmp=tmp_path) for a in argv]],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1 and r.stdout == "" and r.stderr.count("\n") == 1
    assert words.format(tmp=tmp_path) in r.stderr
    assert not (run_dir / "services.json").exists()

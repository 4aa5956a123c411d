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

import pytest

import labkit.sandbox as sb

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

"""Run ``labkit lab`` (or ``make lab``) as a user would, in an isolated home, and wait until it serves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


def isolated_env(root: Path, **extra: str) -> dict[str, str]:
    """An environment with its own home, Jupyter folders, sandbox run dir and temp dir under ``root``."""
    home = root / "home"
    tmp = root / "tmp"
    for d in (home, tmp):
        d.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABKIT_", "JUPYTER"))}
    env.update({"HOME": str(home), "TMPDIR": str(tmp), "LABKIT_RUN_DIR": str(root / "run"),
                "LABKIT_CONFIG": str(home / "labkit.toml"), "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
                "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
                "IPYTHONDIR": str(home / ".ipython"), "XDG_CONFIG_HOME": str(home / ".config"),
                "XDG_CACHE_HOME": str(home / ".cache"), "XDG_STATE_HOME": str(home / ".local/state"),
                "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", **extra})
    return env


class LabProcess:
    """A ``labkit lab`` started in its own session; ``stop()`` sends what Ctrl-C or a kill would."""

    def __init__(self, argv: list[str], env: dict[str, str], port: int, token: str, cwd: Path | None = None):
        self.port, self.token = port, token
        self.log = Path(env["TMPDIR"]).parent / "lab.out"
        self._out = open(self.log, "wb")
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, path: str, token: bool = True):
        """GET a path of the Jupyter server; return (status, body text)."""
        headers = {"Authorization": f"token {self.token}"} if token else {}
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def wait_ready(self, timeout: float = 240) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"lab exited {self.proc.returncode}: {self.output()[-3000:]}")
            try:
                if self.get("/api/status")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"lab never answered: {self.output()[-3000:]}")

    def settings(self, plugin: str) -> dict:
        return json.loads(self.get(f"/lab/api/settings/{plugin}")[1])

    def stop(self, sig: int = signal.SIGINT, group: bool = True, timeout: float = 120) -> int:
        """Send ``sig`` (to the whole process group, as a terminal's Ctrl-C does) and wait for the exit."""
        if self.proc.poll() is None:
            if group:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._out.close()

    def kill(self) -> None:
        """Last resort in a test's cleanup: kill the whole group."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._out.close()

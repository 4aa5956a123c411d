"""``labkit lab``: start the sandbox and JupyterLab (127.0.0.1, token auth) on the runbooks; stop both after.

JupyterLab gets its settings from a labkit-owned folder added to ``JUPYTER_CONFIG_PATH`` (the user's
own Jupyter settings still win): widget state is saved with the notebook, the "news" pop-up is
off, and the token sits in a 0600 ``jupyter_server_config.json`` there, never on the command line
(readable by every local user in ``/proc/PID/cmdline``) nor in the environment the kernels inherit.
When JupyterLab ends (Ctrl-C, SIGTERM, SIGHUP) the sandbox services it started stop too, unless
``--keep-sandbox``; services that were already running are left as they were.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from labkit.errors import LabkitError

# Plugin settings JupyterLab takes as defaults (labconfig/default_setting_overrides.json).
SETTING_DEFAULTS = {
    "@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True},
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false"},
}
# Front-end plugins switched off (labconfig/page_config.json): the news announcements pop-up.
DISABLED_PLUGINS = ("@jupyterlab/apputils-extension:announcements",)
STOP_WAIT = 30.0  # seconds JupyterLab gets to shut its kernels down before it is killed


def notebooks_dir() -> Path:
    """Return the runbooks folder: the repo's ``notebooks/`` when running from a checkout, else the cwd."""
    repo = Path(__file__).resolve().parent.parent / "notebooks"
    return repo if repo.is_dir() else Path.cwd()


def write_lab_config(config_dir: Path, token: str | None = None) -> Path:
    """Write labkit's JupyterLab settings into a Jupyter config folder; return it.

    ``labconfig/page_config.json`` turns the news pop-up off, ``labconfig/default_setting_overrides.json``
    saves widget state with each notebook, and with ``token`` a ``jupyter_server_config.json``
    readable only by its owner holds the server's token. Binder's postBuild calls this for
    ``$PREFIX/etc/jupyter``.
    """
    labconfig = config_dir / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    _merge_json(labconfig / "page_config.json", {"disabledExtensions": {p: True for p in DISABLED_PLUGINS}})
    _merge_json(labconfig / "default_setting_overrides.json", SETTING_DEFAULTS)
    if token is not None:
        config_dir.chmod(0o700)
        _write_private(config_dir / "jupyter_server_config.json", {"IdentityProvider": {"token": token}})
    return config_dir


def _merge_json(path: Path, update: dict) -> None:
    """Merge ``update`` into the JSON object in ``path`` (one level deep), keeping every other key."""
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (ValueError, OSError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    for key, value in update.items():
        merged = data.get(key) if isinstance(data.get(key), dict) else {}
        data[key] = {**merged, **value} if isinstance(value, dict) else value
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _write_private(path: Path, data: dict) -> None:
    """Write JSON to ``path`` readable and writable by its owner only (it holds a token)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def lab_config_dir() -> Path:
    """Return the folder of labkit's JupyterLab settings: ``lab/`` in the sandbox run directory."""
    from labkit.sandbox import run_dir

    return run_dir() / "lab"


def lab_argv(port: int, root: Path) -> list[str]:
    """Return the JupyterLab command line: loopback only, opened on ``root`` (the token is not in it)."""
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
            f"--ServerApp.root_dir={root}"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    return argv


def lab_env(config_dir: Path) -> dict[str, str]:
    """Return JupyterLab's environment: labkit's config folder first on JUPYTER_CONFIG_PATH, no token."""
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_TOKEN"}
    rest = env.get("JUPYTER_CONFIG_PATH")
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(config_dir), *([rest] if rest else [])])
    return env


def run_lab(port: int = 8888, notebooks: Path | None = None, start_sandbox: bool = True,
            keep_sandbox: bool = False) -> int:
    """Start the sandbox, then JupyterLab in the foreground until it ends; then stop what this started."""
    import labkit.sandbox as sb

    if not 1 <= port <= 65535:
        raise LabkitError(f"port {port} is not a TCP port", hint="give a number from 1 to 65535, e.g. --port 8888")
    root = (notebooks or notebooks_dir()).resolve()
    if not root.is_dir():
        raise LabkitError(f"no notebooks folder at {root}", hint="run labkit lab from the labkit checkout or pass --notebooks")
    if sb.port_open(port):
        port = sb.free_port()
    token = os.environ.get("LABKIT_LAB_TOKEN") or secrets.token_hex(16)
    config_dir = write_lab_config(lab_config_dir(), token)
    started: list[str] = []
    try:
        if start_sandbox:
            running = {r.service for r in sb.status() if r.state == "running"}
            for state in sb.start():
                print(f"sandbox {state.name}: {state.url}")
                if state.name not in running:
                    started.append(state.name)
        print(f"JupyterLab: http://127.0.0.1:{port}/lab/tree/00-welcome.ipynb?token={token}", flush=True)
        return _serve(lab_argv(port, root), lab_env(config_dir))
    finally:
        (config_dir / "jupyter_server_config.json").unlink(missing_ok=True)
        _after_lab(sb, started, keep_sandbox)


def _serve(argv: list[str], env: dict[str, str]) -> int:
    """Run JupyterLab until it exits; Ctrl-C, SIGTERM or SIGHUP ask it to shut its kernels down and stop."""
    proc = subprocess.Popen(argv, env=env, start_new_session=True)  # our signals, not the terminal's

    def ask_to_stop(_sig: int, _frame: object) -> None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    old = {s: signal.signal(s, ask_to_stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        try:
            code = proc.wait()
        except BaseException:
            ask_to_stop(0, None)
            raise
        return 0 if code in (0, -signal.SIGTERM) else code
    finally:
        try:
            proc.wait(timeout=STOP_WAIT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for s, handler in old.items():
            signal.signal(s, handler)


def _after_lab(sb, started: list[str], keep_sandbox: bool) -> None:
    """Stop the sandbox services this lab started, or say that they keep running and how to stop them."""
    running = [r.service for r in sb.status() if r.state == "running"]
    if started and not keep_sandbox:
        stopped = sb.stop(started)
        print(f"sandbox stopped: {', '.join(stopped)}", flush=True)
        running = [n for n in running if n not in stopped]
    if running:
        print(f"sandbox keeps running: {', '.join(running)}; stop it with: labkit sandbox stop", flush=True)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``lab`` command."""
    p = sub.add_parser("lab", help="start the sandbox and JupyterLab on the runbooks")
    # the range is run_lab's one rule (a one-line error, exit 1); argparse only reads the digits
    p.add_argument("--port", type=int, default=8888, help="port (1 to 65535, default 8888)")
    p.add_argument("--notebooks", type=Path, default=None, help="folder to open (default: the runbooks)")
    p.add_argument("--no-sandbox", action="store_true", help="do not start the sandbox services")
    p.add_argument("--keep-sandbox", action="store_true",
                   help="leave the sandbox running when JupyterLab stops (default: stop what this started)")
    p.set_defaults(func=lambda a: run_lab(a.port, a.notebooks, not a.no_sandbox, a.keep_sandbox))

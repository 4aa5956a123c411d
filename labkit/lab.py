"""``labkit lab``: start the sandbox and JupyterLab (127.0.0.1, token auth) on the runbooks."""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

from labkit.errors import LabkitError


def notebooks_dir() -> Path:
    """Return the runbooks folder: the repo's ``notebooks/`` when running from a checkout, else the cwd."""
    repo = Path(__file__).resolve().parent.parent / "notebooks"
    return repo if repo.is_dir() else Path.cwd()


def lab_argv(port: int, token: str, root: Path) -> list[str]:
    """Return the JupyterLab command line: loopback only, token auth, opened on ``root``."""
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    return argv


def run_lab(port: int = 8888, notebooks: Path | None = None, start_sandbox: bool = True) -> int:
    """Start the sandbox, then JupyterLab in the foreground until Ctrl-C; stop nothing the user still needs."""
    import labkit.sandbox as sb

    if not 1 <= port <= 65535:
        raise LabkitError(f"port {port} is not a TCP port", hint="give a number from 1 to 65535, e.g. --port 8888")
    root = notebooks or notebooks_dir()
    if not root.is_dir():
        raise LabkitError(f"no notebooks folder at {root}", hint="run labkit lab from the labkit checkout or pass --notebooks")
    if start_sandbox:
        for state in sb.start():
            print(f"sandbox {state.name}: {state.url}")
    if sb.port_open(port):
        port = sb.free_port()
    token = os.environ.get("LABKIT_LAB_TOKEN") or secrets.token_hex(16)
    print(f"JupyterLab: http://127.0.0.1:{port}/lab/tree/00-welcome.ipynb?token={token}", flush=True)
    try:
        return subprocess.call(lab_argv(port, token, root))
    except KeyboardInterrupt:
        return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``lab`` command."""
    p = sub.add_parser("lab", help="start the sandbox and JupyterLab on the runbooks")
    p.add_argument("--port", type=int, default=8888)
    p.add_argument("--notebooks", type=Path, default=None, help="folder to open (default: the runbooks)")
    p.add_argument("--no-sandbox", action="store_true", help="do not start the sandbox services")
    p.set_defaults(func=lambda a: run_lab(a.port, a.notebooks, not a.no_sandbox))

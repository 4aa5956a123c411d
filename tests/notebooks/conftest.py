"""Run every runbook headless against the sandbox once, in an isolated home and temp dir, and keep the results.

The kernels get ``TMPDIR`` pointed at a folder the tests own, which must be empty when they are done,
and /tmp is listed before and after for names labkit would use: a runbook leaves nothing behind.
Which strings are secrets is :func:`labkit.redact.secret_values`'s answer, the same one ``labkit run`` uses.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import pytest

from labkit.kernel_client import notebook_client
from labkit.redact import secret_values
from tests.conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))
SYSTEM_TMP = Path("/tmp")


def labkit_temp_entries() -> set[str]:
    """Return the names in /tmp that labkit or its tests would create (labkit-*, e.g. labkit-05-* clones)."""
    try:
        return {p.name for p in SYSTEM_TMP.iterdir() if p.name.lower().startswith("labkit")}
    except OSError:
        return set()


class NotebookRun:
    """The isolated environment the runbooks execute in, and what they produced."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.workdir = root / "notebooks"
        self.run_dir = root / "run"
        self.home = root / "home"
        self.tmp = root / "tmp"
        self.tmp_before = labkit_temp_entries()
        self.executed: dict[str, object] = {}
        self.errors: dict[str, str] = {}
        self.secrets: set[str] = set()
        self.left: dict[str, list[str]] = {}  # notebook -> what it left in TMPDIR or /tmp

    def env(self) -> dict[str, str]:
        """Environment for the kernels: a fresh home, the private run dir, a canary secret."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABKIT_", "JUPYTER_"))}
        env.update({
            "HOME": str(self.home), "LABKIT_RUN_DIR": str(self.run_dir),
            "LABKIT_CONFIG": str(self.home / ".config/labkit/config.toml"),
            "XDG_CONFIG_HOME": str(self.home / ".config"), "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_STATE_HOME": str(self.home / ".local/state"), "XDG_DATA_HOME": str(self.home / ".local/share"),
            "IPYTHONDIR": str(self.home / ".ipython"), "JUPYTER_CONFIG_DIR": str(self.home / ".jupyter"),
            "JUPYTER_DATA_DIR": str(self.home / ".local/share/jupyter"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", "TMPDIR": str(self.tmp),
            # A secret the runbooks may be handed through the environment; it must never show up.
            "LABKIT_CANARY_TOKEN": "canary-" + secrets.token_hex(12),
        })
        if (shared := REPO.parent / "shared" / "data").is_dir():
            env.setdefault("LABKIT_SHARED_DATA", str(shared))
        return env

    def execute(self, path: Path):
        """Execute one notebook in its own kernel; return the executed notebook (errors are recorded)."""
        import nbformat
        from nbclient.exceptions import CellExecutionError

        nb = nbformat.read(self.workdir / path.name, as_version=4)
        env = self.env()
        tmp_before = set(os.listdir(self.tmp)) if self.tmp.is_dir() else set()
        old = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            client = notebook_client(nb, timeout=600, cwd=self.workdir)
            client.execute()
        except CellExecutionError as exc:
            self.errors[path.name] = str(exc)[-3000:]
        finally:
            self.secrets |= secret_values(os.environ, run_dir=self.run_dir)
            os.environ.clear()
            os.environ.update(old)
        # TMPDIR is the kernels' own: what appears there is this runbook's. /tmp is shared with every
        # process on the machine, so it is checked once, at the end (test_the_sandbox_leaves_nothing_in_tmp...).
        self.left[path.name] = sorted(set(os.listdir(self.tmp)) - tmp_before)
        nbformat.write(nb, self.workdir / f"executed-{path.name}")
        self.executed[path.name] = nb
        return nb


@pytest.fixture(scope="session")
def notebook_run(tmp_path_factory):
    """One isolated environment for all runbooks; the sandbox it starts is stopped at the end."""
    root = tmp_path_factory.mktemp("runbooks")
    run = NotebookRun(root)
    shutil.copytree(REPO / "notebooks", run.workdir)
    for d in (run.home, run.run_dir, run.tmp):
        d.mkdir(parents=True)
    yield run
    import labkit.sandbox as sb

    sb.stop(rd=run.run_dir)

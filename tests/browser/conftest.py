"""JupyterLab in Debian chromium driven by playwright: the `lab` fixture for browser tests."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from labkit.lab import write_lab_config
from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


class Lab:
    """A running JupyterLab on a copy of the runbooks, and a browser to drive it."""

    def __init__(self, root: Path, port: int, token: str, browser) -> None:
        self.root = root
        self.port = port
        self.token = token
        self.browser = browser
        self.base = f"http://127.0.0.1:{port}"
        self.pages = []

    def api(self, path: str, method: str = "GET"):
        """Call the Jupyter server's REST API."""
        req = urllib.request.Request(f"{self.base}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback
            body = r.read()
        return json.loads(body) if body else None

    def open(self, notebook: str, offline: bool = False):
        """Open a notebook in a fresh workspace and wait until its kernel is connected and idle.

        ``offline``: every request that does not go to this JupyterLab is refused and recorded
        in ``page.requests_refused``.
        """
        page = self.browser.new_page(viewport={"width": 1400, "height": 1000})
        page.errors = []
        page.requests_refused = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        if offline:
            def guard(route):
                if route.request.url.startswith((self.base, self.base.replace("http", "ws"))):
                    route.continue_()
                else:
                    page.requests_refused.append(route.request.url)
                    route.abort()

            page.route("**/*", guard)
        ws = "t" + secrets.token_hex(4)
        page.goto(f"{self.base}/lab/workspaces/{ws}/tree/{notebook}?token={self.token}")
        page.wait_for_selector("#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current", timeout=60_000)
        self.wait_kernel_idle(notebook, page)
        self.pages.append(page)
        return page

    def wait_kernel_idle(self, notebook: str, page=None, timeout: float = 90) -> None:
        """Poll /api/sessions until the notebook's kernel has a connection and is idle.

        With a page, it waits through playwright, which keeps serving the page's route handlers.
        """
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for s in self.api("/api/sessions") or []:
                k = s.get("kernel") or {}
                path = s.get("path", "")  # exactly this notebook: reopen-00-welcome.ipynb is not 00-welcome.ipynb
                if (path == notebook or path.endswith("/" + notebook)) and k.get("connections", 0) >= 1 \
                        and k.get("execution_state") == "idle":
                    return
            if page is not None:
                page.wait_for_timeout(300)
            else:
                time.sleep(0.3)
        raise TimeoutError(f"kernel for {notebook} never became idle")

    def run_all(self, page) -> None:
        """Run all cells through the Run menu."""
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator('li.lm-Menu-item[data-command="runmenu:run-all"]').click()

    def close(self) -> None:
        """Shut the kernels down and close the pages."""
        for s in self.api("/api/sessions") or []:
            self.api(f"/api/sessions/{s['id']}", method="DELETE")
        for p in self.pages:
            p.close()


def _free_port() -> int:
    import labkit.sandbox as sb

    return sb.free_port()


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """Debian chromium through playwright, one for the whole session (playwright's sync API allows one).

    Its home is a folder of the session's: chromium otherwise writes its crash-report settings and
    dconf cache into the user's ``~/.config`` and ``~/.cache``.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (make setup does)")
    pw = pytest.importorskip("playwright.sync_api")
    home = tmp_path_factory.mktemp("chromium-home")
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache")}
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, env=env)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def lab(tmp_path_factory, chromium):
    """A JupyterLab on 127.0.0.1 over a copy of notebooks/, with its own home, run dir and token."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    home = root / "home"
    cfg = home / ".jupyter"
    cfg.mkdir(parents=True)
    port, token = _free_port(), secrets.token_hex(16)
    write_lab_config(cfg, token)  # the settings labkit lab gives JupyterLab: token file, widget state, no news
    # every cell drawn, not only those scrolled into view, so a test can read a whole runbook's outputs
    overrides = cfg / "labconfig" / "default_setting_overrides.json"
    settings = json.loads(overrides.read_text())
    settings.setdefault("@jupyterlab/notebook-extension:tracker", {})["windowingMode"] = "none"
    overrides.write_text(json.dumps(settings))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABKIT_", "JUPYTER_"))}
    env.update({"HOME": str(home), "JUPYTER_CONFIG_DIR": str(cfg), "JUPYTER_DATA_DIR": str(home / "data"),
                "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / ".ipython"),
                "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
                "LABKIT_RUN_DIR": str(root / "run"), "LABKIT_CONFIG": str(home / "labkit.toml"),
                "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"})
    if (shared := REPO.parent / "shared" / "data").is_dir():
        env["LABKIT_SHARED_DATA"] = str(shared)
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
            f"--ServerApp.root_dir={root / 'notebooks'}",
            f"--LabApp.workspaces_dir={root / 'ws'}"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    log = open(root / "jupyter.log", "wb")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        end = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)  # noqa: S310
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > end:
                    raise RuntimeError((root / "jupyter.log").read_text()[-2000:]) from None
                time.sleep(0.3)
        the_lab = Lab(root / "notebooks", port, token, chromium)
        try:
            yield the_lab
        finally:
            the_lab.close()
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=90)  # a loaded machine can take a while to shut the kernels down
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()
        import labkit.sandbox as sb

        sb.stop(rd=root / "run")

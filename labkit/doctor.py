"""Check the workbench's environment: Python packages, tools and the libvirt test driver, each with its fix."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Check:
    """One environment check: what was checked, whether it holds, and the fix when it does not."""

    check: str
    status: str  # ok | missing | warn
    detail: str
    fix: str


_MODULES = (
    ("pandas", "pandas", "tables and analytics"),
    ("ipywidgets", "ipywidgets", "the forms"),
    ("anywidget", "anywidget", "the rank board and diff view"),
    ("boto3", "boto3", "awscli provider verification"),
    ("libvirt", "libvirt-python", "VM launch"),
    ("zeep", "zeep", "Jira SOAP"),
    ("moto", "moto[server]", "the AWS-compatible sandbox"),
)
_TOOLS = (
    ("git", "git", "PR review"),
    ("aws", "awscli", "awscli provider verification"),
    ("qemu-system-x86_64", "qemu-system-x86", "VM boot tests"),
    ("grub-mkrescue", "grub-common grub-pc-bin xorriso", "the test ISO"),
    ("chromium", "chromium", "browser tests"),
)


def _tool_path(name: str) -> str | None:
    # Tools installed in the venv (aws) sit beside the interpreter, which may not be on PATH.
    """Return the path of a command-line tool, looking beside the interpreter first."""
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


def environment_checks() -> list[Check]:
    """Return a row per package, tool and driver labkit uses, with the fix for anything missing."""
    ok = sys.version_info >= (3, 11)
    rows = [Check("python", "ok" if ok else "missing", sys.version.split()[0], "" if ok else "install Python 3.11 or newer")]
    for module, package, purpose in _MODULES:
        found = importlib.util.find_spec(module) is not None
        rows.append(Check(f"python: {module}", "ok" if found else "missing", purpose,
                          "" if found else f"make setup (or pip install {package})"))
    for tool, package, purpose in _TOOLS:
        path = _tool_path(tool)
        rows.append(Check(f"tool: {tool}", "ok" if path else "missing", path or purpose,
                          "" if path else f"make setup (or apt-get install {package})"))
    rows.append(_libvirt_test_driver())
    return rows


def _libvirt_test_driver() -> Check:
    """Check that libvirt-python imports and its test driver answers."""
    if importlib.util.find_spec("libvirt") is None:
        return Check("libvirt: test:///default", "missing", "libvirt-python not installed", "make setup")
    import libvirt

    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    try:
        conn = libvirt.open("test:///default")
    except libvirt.libvirtError as exc:
        return Check("libvirt: test:///default", "missing", str(exc), "apt-get install libvirt-dev; make setup")
    try:
        return Check("libvirt: test:///default", "ok", f"libvirt {conn.getLibVersion()}", "")
    finally:
        conn.close()


def sandbox_rows() -> list[dict]:
    """Return the sandbox services as table rows (service, state, url, pid)."""
    import labkit.sandbox as sb

    return [{"service": r.service, "state": r.state, "url": r.url, "pid": r.pid, "description": r.description}
            for r in sb.status()]

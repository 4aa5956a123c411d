"""Fixtures for the VM lab tests: a fake hypervisor from a host file, and one daemon-less qemu:///embed libvirt
per test process.

libvirt opens one embedded root per process ("already open with path ..."), so every test that needs a real
qemu libvirt shares this session's root; each test gets its own folder for disks and seeds, and whatever
domains it left are destroyed and undefined afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

QEMU_DRIVER = Path("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so")
HOST_XML = Path(__file__).parent / "data" / "host.xml"


def host_file_uri(folder: Path, name: str = "host.xml") -> str:
    """Copy tests/vm/data/host.xml into ``folder`` (each open of it starts from the file) and return its URI."""
    path = folder / name
    shutil.copy(HOST_XML, path)
    return f"test://{path}"


@pytest.fixture
def host_uri(tmp_path):
    """A fake hypervisor: domain web1 (MAC 52:54:00:12:34:60, VNC 5901, disk vg01/web1), pool vg01 (volumes web1
    and spare), pool isos holding /isos/silvereye.iso; and an empty fake /proc at ``tmp_path/root``."""
    pytest.importorskip("libvirt", reason="libvirt-python is not installed (make setup)")
    from labkit.vm.connection import disconnect

    (tmp_path / "root/proc").mkdir(parents=True, exist_ok=True)
    uri = host_file_uri(tmp_path)
    yield uri
    disconnect(uri)


def embed_missing() -> str | None:
    """Say what is missing for the embedded qemu libvirt (None when everything is there)."""
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return "libvirt-python is not installed (make setup)"
    if not QEMU_DRIVER.exists():
        return "libvirt's qemu driver is not installed (apt-get install libvirt-daemon-driver-qemu; make setup does)"
    if not shutil.which("qemu-system-x86_64") or not shutil.which("qemu-img"):
        return "qemu-system-x86_64 or qemu-img is missing (apt-get install qemu-system-x86 qemu-utils)"
    return None


@pytest.fixture(scope="session")
def embed_root():
    """A short folder holding this session's embedded libvirt (qemu's monitor socket path must fit 107 bytes)."""
    reason = embed_missing()
    if reason:
        pytest.skip(reason)
    path = Path(tempfile.mkdtemp(prefix="lke-"))
    yield path
    from labkit.vm.connection import connect, disconnect

    uri = f"qemu:///embed?root={path / 'lv'}"
    try:
        for dom in connect(uri).listAllDomains():
            if dom.isActive():
                dom.destroy()
    except Exception:  # noqa: BLE001 - the root may never have been opened
        pass
    disconnect(uri)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def embed(embed_root, tmp_path_factory):
    """(uri, work folder) on the session's embedded libvirt; the test's domains are removed afterwards."""
    import libvirt

    from labkit.vm.connection import connect

    uri = f"qemu:///embed?root={embed_root / 'lv'}"
    work = Path(tempfile.mkdtemp(prefix="w-", dir=embed_root))
    (work / "disks").mkdir()
    (work / "root/proc").mkdir(parents=True)  # an empty /proc for the CLI: no ports, no routes
    before = {d.name() for d in connect(uri).listAllDomains()}
    yield uri, work
    for dom in connect(uri).listAllDomains():
        if dom.name() in before:
            continue
        try:
            if dom.isActive():
                dom.destroy()
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
        except libvirt.libvirtError:
            pass
    shutil.rmtree(work, ignore_errors=True)

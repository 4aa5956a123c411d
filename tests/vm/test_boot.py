"""A real boot: labkit's rendered qemu command boots a tiny GRUB ISO under TCG, VNC answers on the planned port."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from labkit.vm import Lab, qemu_argv
from labkit.vm.inventory import HostInventory, listening_ports

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QEMU = shutil.which("qemu-system-x86_64")
MKRESCUE = shutil.which("grub-mkrescue")
GRUB_MODULES = "normal echo sleep reboot halt iso9660 biosdisk part_msdos configfile serial terminal"
BANNER = "labkit-boot-ok"


def _missing() -> str | None:
    if not QEMU:
        return "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
    if not MKRESCUE or not shutil.which("xorriso"):
        return "grub-mkrescue/xorriso are not installed (apt-get install grub-pc-bin grub-common xorriso)"
    if not Path("/usr/lib/grub/i386-pc").is_dir():
        return "GRUB's BIOS modules are missing (apt-get install grub-pc-bin)"
    return None


@pytest.fixture(scope="module")
def tiny_iso(tmp_path_factory) -> Path:
    """Build a ~600 KB bootable ISO whose GRUB prints a banner on the serial console and shows a menu."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("iso")
    cfg = work / "root/boot/grub/grub.cfg"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(
        "serial --unit=0 --speed=115200\nterminal_input serial console\nterminal_output serial console\n"
        f"echo {BANNER}\nset timeout=30\n"
        "menuentry 'labkit test cloud' {\n  echo booting\n  halt\n}\n", encoding="utf-8")
    iso = work / "test.iso"
    subprocess.run([MKRESCUE, "--compress=xz", f"--install-modules={GRUB_MODULES}", "--fonts=", "--locales=",
                    "--themes=", "-o", str(iso), str(work / "root")], check=True, capture_output=True, timeout=120)
    assert iso.stat().st_size > 100_000
    return iso


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"qemu exited with {proc.returncode} before {what}: {proc.stderr.read()!r}")
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _rfb_banner(port: int) -> bytes | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            return s.recv(12)
    except OSError:
        return None


def _qmp(sock_path: Path, commands: list[dict]) -> list[dict]:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(20)
        s.connect(str(sock_path))
        f = s.makefile("rwb")
        json.loads(f.readline())  # greeting
        answers = []
        for cmd in [{"execute": "qmp_capabilities"}, *commands]:
            f.write(json.dumps(cmd).encode() + b"\n")
            f.flush()
            while True:
                msg = json.loads(f.readline())
                if "return" in msg or "error" in msg:
                    answers.append(msg)
                    break
        return answers[1:]


def _listen_addresses(port: int) -> set[str]:
    out = set()
    for name in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
            cols = line.split()
            addr, p = cols[1].rsplit(":", 1)
            if int(p, 16) == port and cols[3] == "0A":
                out.add(addr)
    return out


@pytest.mark.parametrize("style", ["modern", "blog"])
def test_rendered_qemu_command_boots_iso_under_tcg(tiny_iso, tmp_path, style):
    # plan against this host's real listening ports, so the VNC display skips any port in use
    host = HostInventory(name="local", uri="")
    host.vnc_ports.update({p: w for p, w in listening_ports("/").items() if p >= 5900})
    lab = Lab([host])
    # commas in both paths: qemu must still open these very files (the renderer doubles them in -drive)
    iso = tmp_path / "test,if=none.iso"
    shutil.copy(tiny_iso, iso)
    (tmp_path / "d,isks").mkdir()
    plan = lab.plan_cloud(f"boot-{style}", iso=str(iso), memory_mb=256, vcpus=1, bridge="",
                          disk_kind="raw", disk_dir=str(tmp_path / "d,isks"), disk_gb=1)
    vm = plan.vms[0]
    assert vm.vnc.port not in host.vnc_ports and vm.vnc.listen == "127.0.0.1"
    Path(vm.disk.path).write_bytes(b"")
    with open(vm.disk.path, "r+b") as fh:
        fh.truncate(16 * 1024 * 1024)
    qmp, serial, png = tmp_path / "qmp.sock", tmp_path / "serial.log", tmp_path / "screen.png"
    argv = qemu_argv(vm, style, binary=QEMU, accel="tcg", qmp=str(qmp), serial=str(serial), headless=True,
                     no_reboot=True)
    assert argv[argv.index("-vnc") + 1] == f"127.0.0.1:{vm.vnc.display}"
    assert ("-netdev" in argv) == (style == "modern")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        banner = _wait_for(lambda: _rfb_banner(vm.vnc.port), 60, "the RFB banner", proc)
        assert banner.startswith(b"RFB 003.")
        assert _listen_addresses(vm.vnc.port) == {"0100007F"}, "VNC must listen on 127.0.0.1 only"
        _wait_for(lambda: BANNER in serial.read_text(errors="replace") if serial.exists() else False,
                  120, "GRUB's banner on the serial console", proc)
        answers = _qmp(qmp, [{"execute": "screendump", "arguments": {"filename": str(png), "format": "png"}},
                             {"execute": "query-status"}])
        assert "return" in answers[0], answers[0]
        _wait_for(lambda: png.exists() and png.stat().st_size > 100, 30, "the screendump PNG", proc)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert answers[1]["return"]["running"] is True
        # the NIC carries the planned MAC
        info = _qmp(qmp, [{"execute": "human-monitor-command", "arguments": {"command-line": "info network"}}])
        assert vm.nic.mac in info[0]["return"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

"""A real Linux guest for the VM lab tests, built from the Debian packages installed on this machine.

Nothing is downloaded: the kernel is ``/boot/vmlinuz-*-cloud-amd64`` (package ``linux-image-cloud-amd64``), its
virtio, ATA and ISO 9660 modules come from ``/lib/modules``, and the userland is the static ``/bin/busybox``
(package ``busybox-static``). The initramfs's ``/init`` reads the NoCloud seed labkit attaches (a ``cidata`` ISO
on the IDE CD-ROM), configures the NIC whose MAC the seed's ``network-config`` names, formats and mounts the
blank disk, writes a marker on the serial console and serves HTTP on port 22. This module is the test's own
oracle: it shares no code with labkit (the seed is parsed with sed, not with labkit's renderer).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
READY_MARKER = "labkit-guest-ready"
# virtio NIC and disk, the IDE CD-ROM that carries the seed, and ISO 9660 to read it.
WANTED_MODULES = ("virtio_pci", "virtio_net", "virtio_blk", "ata_piix", "sr_mod", "isofs")

INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod "/modules/$m" 2>/dev/null; done
echo "labkit-guest: modules loaded" > /dev/ttyS0
mkdir -p /seed /www/cgi-bin /www/data
found=""
for try in 1 2 3 4 5 6 7 8 9 10; do
  for d in /dev/sr0 /dev/sr1 /dev/vdb; do
    [ -b "$d" ] || continue
    if mount -t iso9660 -o ro "$d" /seed 2>/dev/null; then
      if [ -f /seed/meta-data ]; then found="$d"; break 2; fi
      umount /seed
    fi
  done
  sleep 1
done
echo "labkit-guest: seed on ${found:-nothing}" > /dev/ttyS0
NC=/seed/network-config
MAC=$(sed -n 's/^ *macaddress: *"\{0,1\}\([0-9a-fA-F:]*\)"\{0,1\} *$/\1/p' $NC | head -n 1)
ADDR=$(sed -n '/^ *addresses: *$/{n;s/^ *- *"\{0,1\}\([0-9.\/]*\)"\{0,1\} *$/\1/p;}' $NC | head -n 1)
GW=$(sed -n 's/^ *via: *"\{0,1\}\([0-9.]*\)"\{0,1\} *$/\1/p' $NC | head -n 1)
HOST=$(sed -n 's/^local-hostname: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' /seed/meta-data | head -n 1)
IF=""
for i in /sys/class/net/*; do
  [ "$(cat $i/address)" = "$MAC" ] && IF=${i##*/}
done
hostname "$HOST"
ip link set lo up
ip link set "$IF" up
ip addr add "$ADDR" dev "$IF"
[ -n "$GW" ] && ip route add default via "$GW"
if ! mount /dev/vda /www/data 2>/dev/null; then
  mke2fs -q /dev/vda && mount /dev/vda /www/data
fi
[ -f /www/data/state.txt ] || { echo first-boot > /www/data/state.txt; sync; }
cat > /www/cgi-bin/set <<'EOF'
#!/bin/sh
echo "$QUERY_STRING" > /www/data/state.txt
sync
printf 'Content-Type: text/plain\r\n\r\nok\n'
EOF
chmod +x /www/cgi-bin/set
echo "hostname=$HOST if=$IF mac=$MAC addr=$ADDR gw=$GW" > /www/info.txt
httpd -p 22 -h /www
echo "READY_MARKER $ADDR $HOST" > /dev/ttyS0
while true; do sleep 3600; done
""".replace("READY_MARKER", READY_MARKER)


def kernel_release() -> str | None:
    """Return the release of the newest installed Debian cloud kernel that has its modules, or None."""
    found = []
    for vmlinuz in Path("/boot").glob("vmlinuz-*-cloud-amd64"):
        release = vmlinuz.name[len("vmlinuz-"):]
        if (Path("/lib/modules") / release / "modules.dep").is_file():
            found.append(release)
    return sorted(found)[-1] if found else None


def missing() -> str | None:
    """Say what is not installed for building the guest (None when everything is there)."""
    if kernel_release() is None:
        return "no Debian cloud kernel with modules (apt-get install linux-image-cloud-amd64; make setup does)"
    if not BUSYBOX.is_file():
        return "no static busybox at /bin/busybox (apt-get install busybox-static; make setup does)"
    if not shutil.which("qemu-system-x86_64"):
        return "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
    return None


def module_order(release: str, wanted=WANTED_MODULES) -> list[str]:
    """Return the module files (relative to /lib/modules/RELEASE) to insmod, dependencies first (modules.dep)."""
    base = Path("/lib/modules") / release
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for line in (base / "modules.dep").read_text().splitlines():
        mod, _, rest = line.partition(":")
        deps[mod] = rest.split()
        by_name[Path(mod).name.split(".ko")[0].replace("-", "_")] = mod
    builtin = {Path(x).name.split(".ko")[0].replace("-", "_")
               for x in (base / "modules.builtin").read_text().split()}
    order: list[str] = []

    def visit(mod: str) -> None:
        if mod in order:
            return
        for dep in reversed(deps.get(mod, [])):  # modules.dep lists the nearest dependency first
            visit(dep)
        order.append(mod)

    for name in wanted:
        if name in builtin:
            continue
        visit(by_name[name])
    return order


def build(work: Path) -> tuple[Path, Path]:
    """Build (kernel, initramfs) in ``work``; return their paths."""
    release = kernel_release()
    assert release, missing()
    root = work / "initramfs"
    for d in ("bin", "modules"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, root / "bin/busybox")
    names = []
    for mod in module_order(release):
        src = Path("/lib/modules") / release / mod
        shutil.copy2(src, root / "modules" / src.name)
        names.append(src.name)
    (root / "modules.order").write_text("\n".join(names) + "\n")
    init = root / "init"
    init.write_text(INIT)
    init.chmod(0o755)
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    initrd = work / "initrd.cpio"
    with open(initrd, "wb") as out:
        subprocess.run([str(BUSYBOX), "cpio", "-o", "-H", "newc"], input="\n".join(files).encode(), cwd=root,
                       stdout=out, stderr=subprocess.DEVNULL, check=True)
    kernel = work / "vmlinuz"
    shutil.copy2(Path("/boot") / f"vmlinuz-{release}", kernel)
    shutil.rmtree(root)
    return kernel, initrd

"""VM lab at scale: plan and define whole labs, then wait until 50 planned VMs answer at their addresses.

Part 1, plan + define on libvirt's test driver: time per VM at 50, 500 and 5,000 VMs (10 per cloud), side by
side with the raw floor (libvirt-python defining hand-templated XML, no checks). Per-VM time that stays flat as
the lab grows shows planning and defining grow linearly.

Part 2, wait: 50 VMs planned on 10.77.0.0/24 get one TCP listener each, on a loopback alias (a /32 on ``lo``)
inside a network namespace made for the run, so nothing touches this machine's interfaces. Peers, medians of
interleaved rounds:

- labkit ``wait_ready(plan, "tcp:22")`` in Python (parallel probes), and ``labkit vm wait lab.toml`` as a new
  process (the cold start a CLI user pays);
- the shell loop people write by hand (bash ``until (echo > /dev/tcp/$ip/22); do sleep 0.1; done`` per VM);
- the raw floor: one connect() per address in a single Python thread, nothing else.

Each round is run twice: with every VM already up, and with VM i coming up 20 ms after VM i-1 (the last after
about 1 s), where waiting in parallel matters. Needs root for the namespace (the wait part is skipped otherwise).

    .venv/bin/python benchmarks/vm_plan.py            # 50, 500, 5000 VMs; wait over 50 VMs, 5 rounds
    .venv/bin/python benchmarks/vm_plan.py --quick    # 20, 100, 200 VMs; wait over 10 VMs, 2 rounds
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

VMS_PER_CLOUD = 10  # one frontend + 9 node controllers
WAIT_NETWORK = "10.77.0.0/24"
STAGGER_S = 0.02


def peak_mb() -> float:
    """Return this process's peak resident memory (VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- part 1: plan and define ---------------------------------------------------------------------------------
def run_labkit(n_vms: int) -> tuple[float, float, int]:
    """Plan ``n_vms`` VMs in clouds of 10 and define them all; return (plan seconds, define seconds, domains)."""
    from labkit.vm import Lab, domain_xml
    from labkit.vm.connection import connect, disconnect

    uri = "test:///default"
    disconnect(uri)  # a fresh test driver
    conn = connect(uri)
    t0 = time.perf_counter()
    lab = Lab.from_host(uri, network="192.168.0.0/16", probe_host=False)
    plans = [lab.plan_cloud(f"c{i}", topology="fe+nc", nodes=VMS_PER_CLOUD - 1, iso="/isos/silvereye.iso")
             for i in range(n_vms // VMS_PER_CLOUD)]
    t1 = time.perf_counter()
    for plan in plans:
        for vm in plan.vms:
            conn.defineXML(domain_xml(vm, plan=plan))
    t2 = time.perf_counter()
    count = conn.numOfDefinedDomains() + conn.numOfDomains()
    disconnect(uri)
    return t1 - t0, t2 - t1, count


RAW = """<domain type='kvm'><name>raw{i}</name><memory unit='MiB'>4096</memory><vcpu>2</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='cdrom'/><boot dev='hd'/></os>
<cpu mode='custom' match='exact'><model>qemu64</model><feature policy='require' name='vmx'/></cpu>
<devices><disk type='block' device='disk'><source dev='/dev/vg01/raw{i}'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='cdrom'><source file='/isos/silvereye.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>
<interface type='bridge'><mac address='52:54:00:{a:02x}:{b:02x}:{c:02x}'/><source bridge='br0'/><model type='virtio'/></interface>
<graphics type='vnc' port='{port}' autoport='no' listen='127.0.0.1'/></devices></domain>"""


def run_raw(n_vms: int) -> tuple[float, int]:
    """Define ``n_vms`` hand-templated domains with counter MACs and ports (no checks at all)."""
    from labkit.vm.connection import connect, disconnect

    uri = "test:///default"
    disconnect(uri)
    conn = connect(uri)
    t0 = time.perf_counter()
    for i in range(n_vms):
        conn.defineXML(RAW.format(i=i, a=(i >> 16) & 255, b=(i >> 8) & 255, c=i & 255, port=5901 + (i % 59000)))
    t1 = time.perf_counter()
    count = conn.numOfDefinedDomains() + conn.numOfDomains()
    disconnect(uri)
    return t1 - t0, count


def plan_define(sizes: tuple[int, ...]) -> None:
    """Print one row per lab size with labkit's and the raw floor's time per VM."""
    run_labkit(sizes[0])  # warm-up: imports, first connection
    header = (f"{'VMs':>6} {'clouds':>6} {'plan ms/VM':>11} {'define ms/VM':>13} {'labkit ms/VM':>13} "
              f"{'raw ms/VM':>10} {'labkit/raw':>10} {'per-VM vs first':>16}")
    print(header)
    print("-" * len(header))
    first = None
    for n in sizes:
        plan_s, define_s, count = run_labkit(n)
        raw_s, raw_count = run_raw(n)
        assert count == n + 1 and raw_count == n + 1, (count, raw_count)  # + the driver's own 'test' domain
        per_vm = (plan_s + define_s) / n * 1000
        raw_vm = raw_s / n * 1000
        first = first or per_vm
        print(f"{n:>6} {n // VMS_PER_CLOUD:>6} {plan_s / n * 1000:>11.3f} {define_s / n * 1000:>13.3f} "
              f"{per_vm:>13.3f} {raw_vm:>10.3f} {per_vm / raw_vm:>9.2f}x {per_vm / first:>15.2f}x")
    print(f"\nper-VM cost at {sizes[-1]} VMs vs {sizes[0]} VMs is the last column: ~1x means cost grows linearly "
          "with lab size (quadratic would be ~{:.0f}x).".format(sizes[-1] / sizes[0]))


# --- part 2: wait ----------------------------------------------------------------------------------------------
def wait_plan(n_vms: int):
    """Plan one cloud of ``n_vms`` VMs (a frontend and node controllers) on the wait network."""
    from labkit.vm import Lab

    return Lab(network=WAIT_NETWORK).plan_cloud("w", topology="fe+nc", nodes=n_vms - 1, bridge="", disk_kind="qcow2",
                                                disk_dir="/srv/w", accel="tcg")


class Guests:
    """One listener per VM address on port 22, opened at once or one every STAGGER_S seconds."""

    def __init__(self, ips: list[str], stagger: float) -> None:
        self.ips, self.stagger, self.socks, self._stop = ips, stagger, [], threading.Event()
        self.thread = threading.Thread(target=self._open, daemon=True)

    def _open(self) -> None:
        for ip in self.ips:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ip, 22))
            s.listen(64)
            self.socks.append(s)
            if self.stagger and self._stop.wait(self.stagger):
                return

    def __enter__(self) -> Guests:
        self.thread.start()
        if not self.stagger:
            self.thread.join()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.thread.join()
        for s in self.socks:
            s.close()


def peer_labkit(plan, ips) -> float:
    """labkit's wait_ready in this process."""
    from labkit.vm import wait_ready

    t0 = time.perf_counter()
    rows = wait_ready(plan, "tcp:22", timeout=60, interval=0.02, progress=False)
    assert all(r.ready for r in rows), [r for r in rows if not r.ready][:1]
    return time.perf_counter() - t0


def peer_cli(plan_file: str) -> float:
    """``labkit vm wait lab.toml`` as a new process (cold start included)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "labkit.cli", "vm", "wait", plan_file, "--probe", "tcp:22",
                           "--timeout", "60", "--format", "json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return time.perf_counter() - t0


def peer_shell(ips) -> float:
    """The loop people write by hand: bash's /dev/tcp, one VM after another, polling every 0.1 s."""
    script = 'for ip in "$@"; do until (echo > "/dev/tcp/$ip/22") 2>/dev/null; do sleep 0.1; done; done'
    t0 = time.perf_counter()
    subprocess.run(["bash", "-c", script, "wait", *ips], check=True, timeout=120)
    return time.perf_counter() - t0


def peer_floor(ips) -> float:
    """The raw floor: one connect() per address, sequential, retried only while a VM is not up yet."""
    t0 = time.perf_counter()
    for ip in ips:
        while True:
            try:
                socket.create_connection((ip, 22), timeout=1).close()
                break
            except OSError:
                time.sleep(0.005)
    return time.perf_counter() - t0


def wait_child(n_vms: int, rounds: int, plan_file: str) -> None:
    """Run inside the namespace: every peer, interleaved rounds, both scenarios; print JSON results."""
    from labkit.vm import save_plan

    plan = wait_plan(n_vms)
    save_plan(plan_file, [plan])
    ips = [vm.ip for vm in plan.vms]
    with Guests(ips, 0):
        peer_labkit(plan, ips)  # warm-up: imports, thread pool
    out: dict[str, dict[str, list[float]]] = {}
    for scenario, stagger in (("all up", 0.0), ("staggered", STAGGER_S)):
        times: dict[str, list[float]] = {"labkit wait_ready": [], "labkit vm wait (CLI)": [],
                                         "bash /dev/tcp loop": [], "raw floor": []}
        for _ in range(rounds):
            for name, run in (("labkit wait_ready", lambda: peer_labkit(plan, ips)),
                              ("labkit vm wait (CLI)", lambda: peer_cli(plan_file)),
                              ("bash /dev/tcp loop", lambda: peer_shell(ips)),
                              ("raw floor", lambda: peer_floor(ips))):
                with Guests(ips, stagger):
                    times[name].append(run())
        out[scenario] = times
    print(json.dumps({"results": out, "peak_mb": peak_mb()}))


def wait_bench(n_vms: int, rounds: int) -> None:
    """Make the namespace and its loopback aliases, run the wait peers inside it, print the table."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        print("\nwait: skipped (needs root and iproute2 to make a network namespace)")
        return
    ns = f"labkit-bench-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    work = tempfile.mkdtemp(prefix="labkit-bench-")
    try:
        plan = wait_plan(n_vms)
        batch = "link set lo up\n" + "".join(f"addr add {vm.ip}/32 dev lo\n" for vm in plan.vms)
        subprocess.run(["ip", "-n", ns, "-batch", "-"], input=batch, text=True, check=True)
        proc = subprocess.run(["ip", "netns", "exec", ns, sys.executable, __file__, "--wait-child", str(n_vms),
                               str(rounds), f"{work}/lab.toml"], capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"wait benchmark failed: {proc.stderr[-2000:]}")
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nwait until {n_vms} VMs answer on port 22 (one listener per loopback alias in a network namespace), "
          f"median of {rounds} interleaved rounds")
    header = f"{'scenario':<10} {'peer':<22} {'median s':>9} {'ms/VM':>7} {'vs floor':>9} {'vs labkit':>10}"
    print(header)
    print("-" * len(header))
    for scenario, times in data["results"].items():
        med = {name: statistics.median(t) for name, t in times.items()}
        for name, m in med.items():
            print(f"{scenario:<10} {name:<22} {m:>9.3f} {m / n_vms * 1000:>7.2f} {m / med['raw floor']:>8.2f}x "
                  f"{m / med['labkit wait_ready']:>9.2f}x")
    print(f"peak memory (VmHWM) of the process running the peers: {data['peak_mb']:.0f} MB")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its tables, with ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--wait-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.wait_child:
        n, rounds, plan_file = args.wait_child
        wait_child(int(n), int(rounds), plan_file)
        return 0
    try:
        import libvirt  # noqa: F401
    except ImportError:
        print("libvirt-python is not installed: pip install libvirt-python", file=sys.stderr)
        return 1
    plan_define((20, 100, 200) if args.quick else (50, 500, 5000))
    wait_bench(10 if args.quick else 50, 2 if args.quick else 5)
    print(f"peak memory (VmHWM) of the plan/define process: {peak_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

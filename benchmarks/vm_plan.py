"""Plan and define whole labs on libvirt's test driver: time per VM at 50, 500 and 5,000 VMs (10 per cloud).

Side by side with the peer: raw libvirt-python defining hand-templated XML with the same count, the least any
tool can spend. Per-VM time that stays flat as the lab grows shows planning cost grows linearly.

    .venv/bin/python benchmarks/vm_plan.py            # 50, 500, 5000 VMs
    .venv/bin/python benchmarks/vm_plan.py --quick    # 20, 100, 200 VMs
"""

from __future__ import annotations

import argparse
import sys
import time

VMS_PER_CLOUD = 10  # one frontend + 9 node controllers


def run_labkit(n_vms: int) -> tuple[float, float, int]:
    """Plan ``n_vms`` VMs in clouds of 10 and define them all; return (plan seconds, define seconds, domains)."""
    from labkit.vm import Lab, domain_xml
    from labkit.vm.launch import connect, disconnect

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
            conn.defineXML(domain_xml(vm))
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
    from labkit.vm.launch import connect, disconnect

    uri = "test:///default"
    disconnect(uri)
    conn = connect(uri)
    t0 = time.perf_counter()
    for i in range(n_vms):
        conn.defineXML(RAW.format(i=i, a=(i >> 16) & 255, b=(i >> 8) & 255, c=i & 255, port=5901 + i))
    t1 = time.perf_counter()
    count = conn.numOfDefinedDomains() + conn.numOfDomains()
    disconnect(uri)
    return t1 - t0, count


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one row per size, with ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    args = parser.parse_args(argv)
    sizes = (20, 100, 200) if args.quick else (50, 500, 5000)
    try:
        import libvirt  # noqa: F401
    except ImportError:
        print("libvirt-python is not installed: pip install libvirt-python", file=sys.stderr)
        return 1
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
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``smoke_test``: check a running cloud through its awscli profile the way the release engineer does by hand.

Create a key pair, find an image, run an instance, wait for ``running``, check its public IP lies in
the cloud's planned public range and its private IP in the planned private subnet, reach it over TCP
on its public IP, then terminate it and delete the key pair. The clean-up runs whatever failed
before it, and says so in its own rows. Every call goes through boto3 with only the profile's own
files (the same calls ``labkit aws verify`` makes).

On a stand-in (the sandbox's moto) what it cannot honour is a ``not checkable on the sandbox`` row,
never a pass: moto hands out addresses from its own ranges and runs no guest to reach.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.cloud.errors import CloudError

if TYPE_CHECKING:
    from labkit.aws.profile import CloudProfile
    from labkit.vm.spec import CloudPlan

NOT_CHECKABLE = "not checkable on the sandbox"
STATUSES = ("pass", "fail", "skip", NOT_CHECKABLE, "not possible")
SMOKE_STEPS = ("key pair", "image", "run instance", "wait running", "public IP", "private IP", "reach",
               "terminate", "delete key pair")


@dataclass
class SmokeRow:
    """One step of the smoke test: pass, fail, skip (an earlier step failed) or why it could not be checked."""

    step: str
    status: str
    detail: str
    seconds: float = 0.0


def in_range(ip: str, first: str, last: str) -> bool:
    """Tell whether an IPv4 address lies in the inclusive range first..last."""
    a = ipaddress.ip_address(ip)
    return ipaddress.ip_address(first) <= a <= ipaddress.ip_address(last)


def in_subnet(ip: str, subnet: str) -> bool:
    """Tell whether an address lies in a CIDR subnet."""
    return ipaddress.ip_address(ip) in ipaddress.ip_network(subnet, strict=False)


def reach(ip: str, port: int, timeout: float) -> tuple[bool, str]:
    """Try one TCP connection to ip:port; return (accepted, what happened)."""
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True, f"TCP {ip}:{port} accepted a connection"
    except OSError as exc:
        return False, f"TCP {ip}:{port}: {exc.strerror or type(exc).__name__}"


def is_stand_in(profile: CloudProfile) -> bool:
    """Tell whether the profile's EC2 endpoint is the running sandbox's moto (its gateway or Eucalyptus front)."""
    try:
        from labkit.aws.sandbox import endpoints

        bases = [u.rstrip("/") for u in endpoints().values() if isinstance(u, str) and u.startswith("http")]
    except Exception:  # noqa: BLE001 - no sandbox running: not a stand-in
        return False
    urls = [u for u in (profile.endpoints.get("ec2"), profile.endpoint_url) if u]
    return any(u.rstrip("/") == b or u.startswith(b + "/") for u in urls for b in bases)


def _files(config_file: str | Path | None, credentials_file: str | Path | None) -> tuple[Path, Path]:
    """Return the awscli files to read (labkit.aws's defaults when not given)."""
    from labkit.aws.write import resolve_files

    return resolve_files(config_file, credentials_file)


def smoke_test(profile: CloudProfile | str, plan: CloudPlan | None = None, *, config_file: str | Path | None = None,
               credentials_file: str | Path | None = None, image: str | None = None,
               instance_type: str = "t2.micro", port: int = 22, timeout: float = 120, interval: float = 1.0,
               call_timeout: float = 10.0, stand_in: bool | None = None, subnet: str | None = None,
               progress: Callable[[SmokeRow], None] | None = None) -> list[SmokeRow]:
    """Run the smoke test through a written profile; return one row per step (see :data:`SMOKE_STEPS`).

    ``profile`` is a CloudProfile (or a profile name in ``config_file``); ``plan`` (a CloudPlan) gives the
    public range and private subnet the addresses must lie in (without it those rows are ``skip``).
    ``image`` picks an image id (default: the first available machine image). ``timeout`` bounds the
    wait for ``running``; ``port`` is reached on the public IP; ``subnet`` is a subnet id for a VPC cloud. ``stand_in`` says the endpoint is the
    sandbox's moto (default: found out). The key pair and the instance are removed whatever fails.
    """
    from labkit.aws.profile import CloudProfile
    from labkit.aws.tools import Boto3Tool, CallFailed

    if not 0 < timeout <= 3600:
        raise CloudError(f"timeout {timeout!r} is out of range", hint="give 1 to 3600 seconds")
    if not 0 < port < 65536:
        raise CloudError(f"port {port!r} is not a TCP port", hint="give 1 to 65535, e.g. 22")
    cfg, cred = _files(config_file, credentials_file)
    name = profile.name if isinstance(profile, CloudProfile) else str(profile)
    verify_tls = profile.verify_tls if isinstance(profile, CloudProfile) else True
    if stand_in is None:
        stand_in = isinstance(profile, CloudProfile) and is_stand_in(profile)
    tool = Boto3Tool(name, cfg, cred, timeout=call_timeout, verify_tls=verify_tls)
    rows: list[SmokeRow] = []
    state: dict[str, Any] = {}

    def add(step: str, status: str, detail: str, t0: float) -> SmokeRow:
        """Record one row and report it."""
        row = SmokeRow(step, status, detail, round(time.perf_counter() - t0, 2))
        rows.append(row)
        if progress:
            progress(row)
        return row

    def ec2(op: str, **params) -> dict:
        """Call one EC2 operation through the profile."""
        return tool.call("ec2", op, **params)

    failed = False
    try:
        t0 = time.perf_counter()
        key_name = f"labkit-smoke-{secrets.token_hex(4)}"
        try:
            ec2("CreateKeyPair", KeyName=key_name)
            state["key"] = key_name
            add("key pair", "pass", f"created {key_name}", t0)
        except CallFailed as exc:
            failed = True
            add("key pair", "fail", f"CreateKeyPair: {exc}", t0)

        t0 = time.perf_counter()
        if not failed:
            try:
                if image:
                    found = ec2("DescribeImages", ImageIds=[image]).get("Images", [])
                else:
                    found = [i for i in ec2("DescribeImages").get("Images", [])
                             if i.get("State", "available") == "available" and
                             i.get("ImageType", "machine") == "machine"]
                if found:
                    state["image"] = found[0]["ImageId"]
                    add("image", "pass", f"{state['image']} ({found[0].get('Name', '')})", t0)
                else:
                    failed = True
                    add("image", "fail", f"no image {image}" if image else "no available machine image", t0)
            except CallFailed as exc:
                failed = True
                add("image", "fail", f"DescribeImages: {exc}", t0)
        else:
            add("image", "skip", "an earlier step failed", t0)

        t0 = time.perf_counter()
        if not failed and stand_in and not subnet:
            try:
                subnet = _stand_in_subnet(ec2, state)
            except (CallFailed, KeyError, IndexError, ValueError) as exc:
                failed = True
                add("sandbox subnet", "fail", f"could not give moto's region a subnet: {exc}", t0)
            else:
                if state.get("subnet"):
                    add("sandbox subnet", "pass", f"created {subnet}: moto's custom region has no default subnet "
                        "(removed at the end)", t0)

        t0 = time.perf_counter()
        if not failed:
            try:
                out = ec2("RunInstances", ImageId=state["image"], MinCount=1, MaxCount=1, InstanceType=instance_type,
                          KeyName=state["key"], **({"SubnetId": subnet} if subnet else {}))
                state["instance"] = out["Instances"][0]["InstanceId"]
                add("run instance", "pass", f"{state['instance']} ({instance_type})", t0)
            except (CallFailed, KeyError, IndexError) as exc:
                failed = True
                add("run instance", "fail", f"RunInstances: {exc}", t0)
        else:
            add("run instance", "skip", "an earlier step failed", t0)

        t0 = time.perf_counter()
        inst: dict[str, Any] = {}
        if not failed:
            deadline = time.monotonic() + timeout
            last = "no answer"
            while True:
                try:
                    res = ec2("DescribeInstances", InstanceIds=[state["instance"]])
                    inst = res["Reservations"][0]["Instances"][0]
                    last = inst.get("State", {}).get("Name", "?")
                except (CallFailed, KeyError, IndexError) as exc:
                    last = f"DescribeInstances: {exc}"
                if last == "running" or last in ("terminated", "shutting-down", "stopped"):
                    break
                if time.monotonic() + interval > deadline:
                    break
                time.sleep(interval)
            if last == "running":
                add("wait running", "pass", f"{state['instance']} is running", t0)
            else:
                failed = True
                add("wait running", "fail", f"{state['instance']} not running within {timeout:g} s (last state: "
                    f"{last})", t0)
        else:
            add("wait running", "skip", "an earlier step failed", t0)

        t0 = time.perf_counter()
        public = inst.get("PublicIpAddress") or ""
        private = inst.get("PrivateIpAddress") or ""
        checks = (("public IP", public, lambda ip: in_range(ip, plan.public_range.first, plan.public_range.last),
                   lambda: f"{plan.public_range.first}-{plan.public_range.last}"),
                  ("private IP", private, lambda ip: in_subnet(ip, plan.private_subnet),
                   lambda: plan.private_subnet))
        wrong = False  # both addresses are checked before a wrong one stops the test
        for step, ip, inside, where in checks:
            t0 = time.perf_counter()
            if failed:
                add(step, "skip", "an earlier step failed", t0)
            elif not ip:
                wrong = True
                add(step, "fail", f"the instance has no {step}", t0)
            elif plan is None:
                add(step, "skip", f"{ip}: no plan given to check it against", t0)
            elif stand_in:
                add(step, NOT_CHECKABLE, f"{ip}: moto hands out its own addresses, not the plan's {where()}", t0)
            elif inside(ip):
                add(step, "pass", f"{ip} in {where()}", t0)
            else:
                wrong = True
                add(step, "fail", f"{ip} is outside the planned {where()}", t0)
        failed = failed or wrong

        t0 = time.perf_counter()
        if failed:
            add("reach", "skip", "an earlier step failed", t0)
        elif stand_in:
            add("reach", NOT_CHECKABLE, f"moto runs no guest: nothing answers on {public or 'its address'}:{port}", t0)
        elif not public:
            add("reach", "not possible", "the instance has no public IP to reach", t0)
        else:
            ok, what = reach(public, port, min(10.0, timeout))
            if not ok:
                failed = True
            add("reach", "pass" if ok else "fail", what, t0)
    finally:
        _clean_up(tool, state, add, timeout, interval)
    return rows


def _stand_in_subnet(ec2, state: dict) -> str | None:
    """Return a subnet for moto's custom region, creating one in the default VPC when it has none."""
    if ec2("DescribeSubnets").get("Subnets"):
        return None
    vpcs = [v for v in ec2("DescribeVpcs").get("Vpcs", []) if v.get("IsDefault")]
    cidr = next(ipaddress.ip_network(vpcs[0]["CidrBlock"]).subnets(new_prefix=24))
    # moto lists no zones in a custom region, and takes only zones of its known regions for a subnet
    made = ec2("CreateSubnet", VpcId=vpcs[0]["VpcId"], CidrBlock=str(cidr), AvailabilityZone="us-east-1a")
    state["subnet"] = made["Subnet"]["SubnetId"]
    return state["subnet"]


def _clean_up(tool, state: dict, add, timeout: float, interval: float) -> None:
    """Terminate the instance and delete the key pair (and a sandbox subnet) the test created, one row each."""
    from labkit.aws.tools import CallFailed

    t0 = time.perf_counter()
    if state.get("instance"):
        try:
            tool.call("ec2", "TerminateInstances", InstanceIds=[state["instance"]])
            add("terminate", "pass", f"terminated {state['instance']}", t0)
        except CallFailed as exc:
            add("terminate", "fail", f"TerminateInstances {state['instance']}: {exc}: terminate it by hand", t0)
    else:
        add("terminate", "skip", "no instance was started", t0)
    if state.get("subnet"):
        t0 = time.perf_counter()
        try:
            tool.call("ec2", "DeleteSubnet", SubnetId=state["subnet"])
            add("delete sandbox subnet", "pass", f"deleted {state['subnet']}", t0)
        except CallFailed as exc:
            add("delete sandbox subnet", "fail", f"DeleteSubnet {state['subnet']}: {exc}", t0)
    t0 = time.perf_counter()
    if state.get("key"):
        try:
            tool.call("ec2", "DeleteKeyPair", KeyName=state["key"])
            add("delete key pair", "pass", f"deleted {state['key']}", t0)
        except CallFailed as exc:
            add("delete key pair", "fail", f"DeleteKeyPair {state['key']}: {exc}: delete it by hand", t0)
    else:
        add("delete key pair", "skip", "no key pair was created", t0)


def smoke_passed(rows: list[SmokeRow]) -> bool:
    """Tell whether no row failed (a not-checkable or not-possible row is not a pass, but not a failure either)."""
    return not any(r.status == "fail" for r in rows)

"""Benchmark: labkit's verify through boto3, cold and warm, vs one ``aws`` process per API call; and vs the raw floor.

All three run the same checks (EC2, IAM, STS and S3 at object level: a 256 KiB put/get, a 10 MiB
multipart upload in 5 MiB parts, ranged GET, copy, presigned GET, delete) against the sandbox's
moto, with a profile of plain keys (the aws CLI's fastest way to get a key). Rows:

- labkit cold: ``labkit aws verify NAME --tool boto3`` in a fresh process: Python start-up, the
  imports of labkit, boto3 and botocore, session and clients, every check (what a user pays once);
- labkit warm: ``run_checks`` again in a process whose boto3 session and clients exist (a notebook);
- aws CLI: the same API calls, each one ``aws ...`` process as its docs show (sequential);
- raw floor: the same API calls replayed on bare boto3 clients, no labkit in between.

Each round runs the peers in rotated order (interleaved); times are medians of the rounds. Memory is
each process's own peak (VmHWM from /proc/self/status, read at its exit): the cold verify process,
this (warm) process, and the largest ``aws`` process.

    .venv/bin/python benchmarks/aws_verify.py            # 5 rounds
    .venv/bin/python benchmarks/aws_verify.py --quick    # 1 round, a smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VMHWM = ("import atexit, sys\n"
         "_mem = sys.argv.pop(1)\n"
         "def _hwm():\n"
         "    kb = next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
         "    open(_mem, 'a').write(kb + '\\n')\n"
         "atexit.register(_hwm)\n")


def vmhwm_mb() -> float:
    """Return this process's own peak resident memory (VmHWM) in MB."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def main() -> int:
    """Run the rounds and print medians, memory and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one round only")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds

    import labkit.sandbox as sb
    from labkit.aws import CHECKS, preset_profile, write_profile
    from labkit.aws.tools import aws_executable
    from labkit.aws.verify import Boto3Tool, CliTool, make_payload, run_checks
    from labkit.config import Secret

    def never(_service: str) -> None:
        """Skip nothing: moto answers every service."""
        return None

    with tempfile.TemporaryDirectory(prefix="labkit-bench-aws-") as tmp:
        tmpdir = Path(tmp)
        rd = tmpdir / "run"
        sb.start(["aws"], rd=rd)
        try:
            url = sb.url("aws", rd=rd)
            cfg, cred = tmpdir / "config", tmpdir / "credentials"
            profile = preset_profile("moto", "bench", region="partner01", url=url, access_key_id="AKIDBENCH",
                                     secret=Secret("bench-secret-0123456789", "benchmark"), credentials="keys")
            write_profile(profile, cfg, cred, dry_run=False)
            from botocore.configloader import load_config

            settings = load_config(str(cfg))["profiles"]["bench"]
            payload = make_payload(tmpdir)
            common = {"settings": settings, "payload": payload, "timeout": 10.0}
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            cold_mem = tmpdir / "cold.mem"
            cold_argv = [sys.executable, "-c", VMHWM + "from labkit.cli import main\nsys.exit(main())", str(cold_mem),
                         "aws", "verify", "bench", "--tool", "boto3", "--format", "json",
                         "--config-file", str(cfg), "--credentials-file", str(cred)]

            def cold() -> float:
                """One verify in a fresh process; return its wall time."""
                t = time.perf_counter()
                out = subprocess.run(cold_argv, env=env, capture_output=True, text=True, timeout=600)
                elapsed = time.perf_counter() - t
                if out.returncode != 0 or '"fail"' in out.stdout:
                    raise SystemExit(f"cold verify failed: {out.stderr or out.stdout}")
                return elapsed

            boto = Boto3Tool("bench", cfg, cred, timeout=10.0)
            t0 = time.perf_counter()
            first = run_checks(boto, "partner01", never, **common)  # session, clients and models, once
            warm_up = time.perf_counter() - t0
            assert all(r.status in ("pass", "info") for r in first), [r for r in first if r.status == "fail"]
            recorded: list[tuple] = []  # (kind, args, what came back) of one round, in order
            real = {"call": boto.call, "download": boto.download, "presign": boto.presign}

            def recorder(kind: str):
                """Wrap one tool method so that its calls and answers are kept for the raw-floor replay."""
                def wrapped(*a, **kw):
                    out = real[kind](*a, **kw)
                    recorded.append((kind, a, kw, out))
                    return out
                return wrapped

            for kind in real:
                setattr(boto, kind, recorder(kind))
            run_checks(boto, "partner01", never, **common)
            for kind, fn in real.items():
                setattr(boto, kind, fn)

            def warm() -> float:
                """The checks again through the warm session; return the wall time."""
                t = time.perf_counter()
                rows = run_checks(boto, "partner01", never, **common)
                elapsed = time.perf_counter() - t
                assert all(r.status in ("pass", "info") for r in rows), [r for r in rows if r.status == "fail"]
                return elapsed

            clients = {s: boto.client(s) for s in ("ec2", "iam", "sts", "s3")}

            def floor() -> float:
                """Replay the round's API calls on bare boto3 clients (new ids swapped in); return wall time."""
                import requests
                from botocore import xform_name

                swap: dict[str, str] = {}

                def fix(value):
                    """Put this replay's ids (volume, multipart upload) where the recording had its own."""
                    if isinstance(value, str):
                        return swap.get(value, value)
                    if isinstance(value, dict):
                        return {k: fix(v) for k, v in value.items()}
                    if isinstance(value, list):
                        return [fix(v) for v in value]
                    return value

                t = time.perf_counter()
                for kind, a, kw, out in recorded:
                    if kind == "call":
                        service, operation = a
                        params = fix(kw)
                        files = {k: open(v, "rb") for k, v in params.items() if isinstance(v, Path)}  # noqa: SIM115
                        try:
                            got = getattr(clients[service], xform_name(operation))(**{**params, **files})
                        finally:
                            for f in files.values():
                                f.close()
                        for key in ("VolumeId", "UploadId"):
                            if key in out and key in got:
                                swap[out[key]] = got[key]
                    elif kind == "download":
                        bucket, key, _dest, byte_range = a
                        extra = {"Range": byte_range} if byte_range else {}
                        clients["s3"].get_object(Bucket=bucket, Key=key, **extra)["Body"].read()
                    else:
                        bucket, key, expires = a
                        requests.get(clients["s3"].generate_presigned_url(
                            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires), timeout=10)
                return time.perf_counter() - t

            cli = CliTool("bench", cfg, cred, timeout=10.0)
            calls = {"n": 0}
            real_cli = cli._run

            def counted(argv: list[str]) -> str:
                """Count the aws processes a round starts."""
                calls["n"] += 1
                return real_cli(argv)

            cli._run = counted  # type: ignore[method-assign]

            def aws_cli() -> float:
                """The same checks, one aws process per API call; return the wall time."""
                t = time.perf_counter()
                rows = run_checks(cli, "partner01", never, info=False, **common)
                elapsed = time.perf_counter() - t
                assert all(r.status == "pass" for r in rows), [r for r in rows if r.status != "pass"]
                return elapsed

            peers = {"labkit cold": cold, "labkit warm": warm, "aws CLI": aws_cli, "raw floor": floor}
            times: dict[str, list[float]] = {name: [] for name in peers}
            names = list(peers)
            for r in range(rounds):
                order = names[r % len(names):] + names[:r % len(names)]
                for name in order:
                    times[name].append(peers[name]())
            per_round_calls = calls["n"] // rounds
            # memory: each aws process's own peak, through the same interpreter and the aws script
            aws_mem = tmpdir / "aws.mem"
            wrapper = tmpdir / "aws-hwm"
            wrapper.write_text(f"#!{sys.executable}\n" + VMHWM.replace("sys.argv.pop(1)", repr(str(aws_mem)))
                               + f"import runpy\nsys.argv[0] = {aws_executable()!r}\n"
                               + f"runpy.run_path({aws_executable()!r}, run_name='__main__')\n")
            wrapper.chmod(0o700)
            run_checks(CliTool("bench", cfg, cred, timeout=10.0, executable=str(wrapper)), "partner01", never,
                       info=False, **common)
            aws_peak = max(int(x) for x in aws_mem.read_text().split()) / 1024
            cold_peak = max(int(x) for x in cold_mem.read_text().split()) / 1024
        finally:
            sb.stop(["aws"], rd=rd)

    med = {name: statistics.median(ts) for name, ts in times.items()}
    print(f"aws_verify: {len(CHECKS)} checks, {per_round_calls} API calls (aws processes) per round, "
          f"{rounds} interleaved round(s), moto on 127.0.0.1; medians")
    print(f"(first boto3 round in this process, session and clients created: {warm_up * 1000:.0f} ms)")
    print(f"{'peer':34} {'wall ms':>10} {'per call ms':>12} {'own peak MB':>12}")
    rows = [("labkit verify, cold (fresh process)", med["labkit cold"], cold_peak),
            ("labkit verify, warm (session exists)", med["labkit warm"], vmhwm_mb()),
            ("aws CLI, one process per call", med["aws CLI"], aws_peak),
            ("raw floor (bare boto3 calls)", med["raw floor"], None)]
    for label, seconds, peak in rows:
        mem = f"{peak:12.0f}" if peak is not None else f"{'(this process)':>12}"
        print(f"{label:34} {seconds * 1000:10.0f} {seconds * 1000 / per_round_calls:12.1f} {mem}")
    cold_x, warm_x = med["aws CLI"] / med["labkit cold"], med["aws CLI"] / med["labkit warm"]
    print(f"ratio aws CLI / labkit cold: {cold_x:.1f}x  (goal >= 3x)")
    print(f"ratio aws CLI / labkit warm: {warm_x:.1f}x  (goal >= 30x)")
    print(f"ratio labkit warm / raw floor: {med['labkit warm'] / med['raw floor']:.2f}x")
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    print(f"goal aws CLI / labkit cold >= 3x: {'met' if cold_x >= 3 else 'NOT met'} ({cold_x:.1f}x); {load}")
    print(f"goal aws CLI / labkit warm >= 30x: {'met' if warm_x >= 30 else 'NOT met'} ({warm_x:.1f}x); {load}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

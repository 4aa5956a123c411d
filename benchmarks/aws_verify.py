"""Benchmark: the verification suite through one warm boto3 session vs one ``aws`` process per call.

Runs against a moto server started in a temporary sandbox run directory (stopped at the end).

    .venv/bin/python benchmarks/aws_verify.py            # 5 rounds
    .venv/bin/python benchmarks/aws_verify.py --quick    # 1 round, a smoke run
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> int:
    """Run both tools over the same checks and print per-check medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one round only")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds

    import labkit.sandbox as sb
    from labkit.aws import CHECKS, preset_profile, write_profile
    from labkit.aws.verify import Boto3Tool, CliTool, run_checks
    from labkit.config import Secret

    with tempfile.TemporaryDirectory(prefix="labkit-bench-aws-") as tmp:
        rd = Path(tmp) / "run"
        sb.start(["aws"], rd=rd)
        try:
            url = sb.url("aws", rd=rd)
            cfg, cred = Path(tmp) / "config", Path(tmp) / "credentials"
            profile = preset_profile("moto", "bench", region="partner01", url=url, access_key_id="AKIDBENCH",
                                     secret=Secret("bench-secret", "benchmark"))
            write_profile(profile, cfg, cred, dry_run=False)
            region = "partner01"

            def never(_service: str) -> None:
                """Skip nothing: moto answers every service."""
                return None

            t0 = time.perf_counter()
            boto = Boto3Tool(profile.name, cfg, cred)
            warmup = run_checks(boto, region, never)  # session, clients and models loaded once
            warm_cost = time.perf_counter() - t0
            assert all(r.status == "pass" for r in warmup), [r for r in warmup if r.status != "pass"]
            cli = CliTool(profile.name, cfg, cred)
            calls = {"n": 0}
            real_call = cli.call

            def counted(*a, **kw):
                """Count the aws processes a round starts."""
                calls["n"] += 1
                return real_call(*a, **kw)

            cli.call = counted  # type: ignore[method-assign]
            times: dict[tuple[str, str], list[float]] = {}
            totals: dict[str, list[float]] = {"boto3": [], "aws-cli": []}
            for _ in range(rounds):
                for tool in (boto, cli):
                    t = time.perf_counter()
                    rows = run_checks(tool, region, never)
                    totals[tool.name].append(time.perf_counter() - t)
                    for r in rows:
                        assert r.status == "pass", r
                        times.setdefault((tool.name, r.check), []).append(r.seconds)
        finally:
            sb.stop(["aws"], rd=rd)

    per_round_calls = calls["n"] // rounds
    print(f"aws_verify: {len(CHECKS)} checks, {per_round_calls} API calls per round, {rounds} round(s), moto on 127.0.0.1")
    print(f"boto3 session + clients warm-up (first full round, not in the totals): {warm_cost * 1000:.0f} ms")
    print(f"{'check':40} {'boto3 ms':>10} {'aws-cli ms':>11} {'ratio':>7}")
    for check in CHECKS:
        b = statistics.median(times[("boto3", check.name)]) * 1000
        c = statistics.median(times[("aws-cli", check.name)]) * 1000
        print(f"{check.name:40} {b:10.1f} {c:11.1f} {c / b if b else float('inf'):6.1f}x")
    b, c = statistics.median(totals["boto3"]) * 1000, statistics.median(totals["aws-cli"]) * 1000
    print(f"{'whole suite (median of rounds)':40} {b:10.1f} {c:11.1f} {c / b:6.1f}x")
    print(f"per API call: boto3 {b / per_round_calls:.1f} ms, aws process {c / per_round_calls:.1f} ms")
    print(f"ratio aws-cli / warm boto3: {c / b:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

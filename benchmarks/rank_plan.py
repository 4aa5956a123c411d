"""Benchmark: labkit's minimal re-rank plan vs the 2012 one-rank-call-per-violated-link script.

Two backlogs, generated with a fixed seed:
- 100,000 issues with 30,000 "blocks" links in realistic components: mostly small (a blocker and
  a few issues it blocks, short chains), some epics of tens, a few programmes of hundreds; teams
  rank about half the components roughly right and the rest at random;
- one 2,000-issue component (a long programme with ~3,000 links and long blocking chains).

For each: planning time, issues moved and rank calls for labkit and for the baseline, printed as
ratios. Goals: 100k backlog planned in < 5 s; never more moves than the baseline; >= 3x fewer calls.

    .venv/bin/python benchmarks/rank_plan.py [--quick] [--seed N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from labkit.rank import baseline_plan, count_violations, plan_moves


def _component_edges(rng: random.Random, members: list[str], n_links: int,
                     reversed_share: float = 0.0) -> list[tuple[str, str]]:
    """Blocks links inside one component: earlier-filed issues block later ones, hubs block many, some chains.

    ``reversed_share`` of the tree links point the other way, which makes some blocking cycles.
    """
    edges: dict[tuple[str, str], None] = {}   # a dict keeps insertion order: same output for the same seed
    s = len(members)
    for i in range(1, s):            # a spanning tree keeps the component connected
        if rng.random() < 0.5:
            j = rng.randrange(max(0, i - 3), i)      # chain-like: blocked by a recent issue
        else:
            j = min(int(rng.paretovariate(1.2)) - 1, i - 1)  # hub-like: the first issues block many
        edges[(members[i], members[j]) if rng.random() < reversed_share else (members[j], members[i])] = None
    tries = 0
    while len(edges) < n_links and tries < 20 * n_links:
        tries += 1
        i = rng.randrange(1, s)
        j = rng.randrange(max(0, i - 50), i)
        edges[(members[j], members[i])] = None
    return list(edges)


def _ranked(rng: random.Random, members: list[str], careful: bool) -> list[tuple[float, str]]:
    """Sort keys for the members: careful teams rank blockers first with noise, others at random."""
    if careful:
        return [(i / len(members) + rng.gauss(0, 0.15), k) for i, k in enumerate(members)]
    return [(rng.random(), k) for k in members]


def backlog(n_issues: int, n_links: int, seed: int) -> tuple[list[str], list[tuple[str, str]]]:
    """A backlog with realistic blocking components: (order, blocks edges)."""
    rng = random.Random(seed)
    keys = [f"P{i % 7}-{i}" for i in range(n_issues)]
    rng.shuffle(keys)
    edges: list[tuple[str, str]] = []
    used = 0
    slots = list(range(n_issues))
    rng.shuffle(slots)
    placed: dict[str, float] = {}
    while len(edges) < n_links and used < n_issues - 2:
        r = rng.random()
        size = (rng.randint(2, 4) if r < 0.70 else rng.randint(5, 30) if r < 0.97 else rng.randint(31, 400))
        size = min(size, n_issues - used)
        members = keys[used:used + size]
        used += size
        links = max(size - 1, int((size - 1) * rng.uniform(1.0, 1.6)))
        edges += _component_edges(rng, members, min(links, n_links - len(edges) + size),
                                  reversed_share=0.05 if size <= 30 else 0.0)
        # the component's issues sit at random backlog slots; their relative order is the team's ranking
        spots = sorted(slots[len(placed):len(placed) + size])
        for spot, (_, k) in zip(spots, sorted(_ranked(rng, members, rng.random() < 0.5)), strict=True):
            placed[k] = spot
    rest = [k for k in keys if k not in placed]
    free = slots[len(placed):]
    for spot, k in zip(free, rest, strict=True):
        placed[k] = spot
    order = sorted(keys, key=placed.__getitem__)
    return order, edges[:n_links]


def one_component(n_issues: int, n_links: int, seed: int) -> tuple[list[str], list[tuple[str, str]]]:
    """A single connected programme of n_issues with long blocking chains."""
    rng = random.Random(seed)
    members = [f"PRG-{i}" for i in range(n_issues)]
    edges = _component_edges(rng, members, n_links)
    order = [k for _, k in sorted(_ranked(rng, members, careful=True))]
    return order, edges


def run(name: str, order: list[str], edges: list[tuple[str, str]]) -> dict[str, float]:
    """Plan both ways, check the result, print one block of numbers and ratios."""
    t0 = time.perf_counter()
    plan = plan_moves(order, edges)
    t_plan = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = baseline_plan(order, edges)
    t_base = time.perf_counter() - t0
    kind = baseline_plan(order, edges, reread=True)
    left = count_violations(plan.final_order, edges)
    base_left = count_violations(base.final_order(), edges)
    moves, calls = len(plan.moves), len(plan.calls)
    print(f"\n== {name}: {len(order):,} issues, {len(set(edges)):,} blocks links, "
          f"{plan.violated_pairs:,} violated pairs, {len(plan.cycles)} cycles")
    print(f"{'':24}{'labkit':>12}{'baseline':>12}{'ratio (baseline/labkit)':>26}")
    print(f"{'planning time (s)':24}{t_plan:12.3f}{t_base:12.3f}{t_base / max(t_plan, 1e-9):26.2f}")
    print(f"{'issues moved':24}{moves:12,}{base.moves:12,}{base.moves / max(moves, 1):26.2f}")
    print(f"{'rank calls':24}{calls:12,}{len(base.calls):12,}{len(base.calls) / max(calls, 1):26.2f}")
    print(f"{'violations left':24}{left:12,}{base_left:12,}   (baseline: {base.passes} passes; "
          f"links in cycles skipped)")
    print(f"  for reference, a kinder script that re-reads the order before each call: {kind.moves:,} moves, "
          f"{len(kind.calls):,} calls ({len(kind.calls) / max(calls, 1):.2f}x labkit's)")
    return {"t_plan": t_plan, "moves": moves, "base_moves": base.moves, "calls": calls,
            "base_calls": len(base.calls), "left": left, "base_left": base_left}


def main(argv: list[str] | None = None) -> int:
    """Run both benchmarks and check the goals; exit 1 if one is missed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10,000 issues / 3,000 links and a 300-issue component")
    ap.add_argument("--seed", type=int, default=2012)
    args = ap.parse_args(argv)
    big = (10_000, 3_000) if args.quick else (100_000, 30_000)
    comp = (300, 450) if args.quick else (2_000, 3_000)
    r1 = run("backlog", *backlog(*big, seed=args.seed))
    r2 = run("single component", *one_component(*comp, seed=args.seed))
    goals = [
        (f"{big[0]:,}-issue backlog planned in < 5 s", r1["t_plan"] < 5.0),
        ("never more moves than the baseline", all(r["moves"] <= r["base_moves"] for r in (r1, r2))),
        (">= 3x fewer rank calls than the baseline", all(r["base_calls"] >= 3 * r["calls"] for r in (r1, r2))),
        ("no violation left after the plan", all(r["left"] == 0 for r in (r1, r2))),
    ]
    print()
    for text, ok in goals:
        print(f"goal {'met   ' if ok else 'MISSED'}  {text}")
    return 0 if all(ok for _, ok in goals) else 1


if __name__ == "__main__":
    sys.exit(main())

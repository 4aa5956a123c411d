"""Benchmark: labkit's minimal re-rank plan vs the 2012 one-rank-call-per-violated-link script.

Two backlogs, generated with a fixed seed:
- 100,000 issues with 30,000 "blocks" links in realistic components: mostly small (a blocker and
  a few issues it blocks, short chains), some epics of tens, a few programmes of hundreds; teams
  rank about half the components roughly right and the rest at random;
- one 2,000-issue component (a long programme with ~3,000 links and long blocking chains).

For each, side by side in one run (medians of interleaved rounds of planning time):
- the script at its best: it re-reads the order before every call and skips links an earlier call
  already fixed (still one rank call per link it finds violated): the peer the goals are about;
- labkit's ``plan_moves``: the fewest moves, placed so that moved issues are contiguous and one
  rank call carries up to 50;
- the floor: one topological sort of the backlog keeping its order where it can (time), and ceil(moves / 50) calls;
- the old naive script (one call per violated link from a stale read, repeated), a labelled row.
Peak memory is this process's VmHWM (all ways run in it, pure CPU). Goals: the 100k backlog planned
in < 2 s; never more moves than either script; >= 3x fewer rank calls than the re-reading script.

    .venv/bin/python benchmarks/rank_plan.py [--quick] [--seed N] [--rounds R]
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import statistics
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


def vmhwm_mb() -> float:
    """This process's own peak resident memory (VmHWM from /proc/self/status), in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def load() -> str:
    """The 1-minute load average and the CPU count, for the figures' context."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def floor_order(order: list[str], edges: list[tuple[str, str]]) -> list[str]:
    """The raw floor of planning: one topological sort of the backlog that keeps the current order where it can.

    Every plan has to read the links and put blockers first at least once; this does only that (Kahn's
    algorithm with a heap on the current position; members of blocking cycles are appended in place
    order when nothing else is free). No minimality asked: the floor is a time, its order is not used.
    """
    pos = {k: i for i, k in enumerate(order)}
    succ: dict[int, list[int]] = {}
    indeg = [0] * len(order)
    for a, b in set(edges):
        if a in pos and b in pos:
            succ.setdefault(pos[a], []).append(pos[b])
            indeg[pos[b]] += 1
    free = [i for i, d in enumerate(indeg) if d == 0]
    heapq.heapify(free)
    out: list[str] = []
    seen = [False] * len(order)
    rest = iter(range(len(order)))
    while len(out) < len(order):
        if not free:                         # only blocking cycles left: take the next one in place order
            i = next(j for j in rest if not seen[j])
        else:
            i = heapq.heappop(free)
            if seen[i]:
                continue
        seen[i] = True
        out.append(order[i])
        for j in succ.get(i, ()):
            indeg[j] -= 1
            if indeg[j] == 0 and not seen[j]:
                heapq.heappush(free, j)
    return out


def run(name: str, order: list[str], edges: list[tuple[str, str]], rounds: int) -> dict[str, float]:
    """Plan every way in interleaved rounds (median times), check the result, print one block of figures and ratios."""
    ways = {"labkit": lambda: plan_moves(order, edges),
            "rereading": lambda: baseline_plan(order, edges, reread=True),
            "naive": lambda: baseline_plan(order, edges),
            "floor": lambda: floor_order(order, edges)}
    times: dict[str, list[float]] = {w: [] for w in ways}
    cpus: dict[str, list[float]] = {w: [] for w in ways}
    out: dict[str, object] = {}
    names = list(ways)
    for r in range(rounds):
        for w in (names if r % 2 == 0 else names[::-1]):
            t0, c0 = time.perf_counter(), time.process_time()
            out[w] = ways[w]()
            times[w].append(time.perf_counter() - t0)
            cpus[w].append(time.process_time() - c0)
    t = {w: statistics.median(v) for w, v in times.items()}
    cpu = {w: statistics.median(v) for w, v in cpus.items()}
    plan, kind, base = out["labkit"], out["rereading"], out["naive"]
    left = count_violations(plan.final_order, edges)
    kind_left = count_violations(kind.final_order(), edges)
    base_left = count_violations(base.final_order(), edges)
    moves, calls = len(plan.moves), len(plan.calls)
    fewest = -(-moves // 50)   # the floor of calls for these moves: 50 issues per rank call
    print(f"\n== {name}: {len(order):,} issues, {len(set(edges)):,} blocks links, "
          f"{plan.violated_pairs:,} violated pairs, {len(plan.cycles)} cycles; medians of {rounds} interleaved "
          f"rounds; {load()}")
    print(f"  {'':66}{'plan s':>8}{'CPU s':>8}{'moved':>8}{'calls':>8}{'left':>6}")
    rows = [("script at its best: re-reads the order before each call", "rereading", kind.moves,
             len(kind.calls), kind_left),
            ("labkit plan_moves (minimal moves, contiguous places)", "labkit", moves, calls, left),
            (f"floor: one topological sort (heap by place); calls >= ceil({moves}/50)", "floor", None, fewest, None),
            (f"old naive script: one call per violated link, {base.passes} passes", "naive", base.moves,
             len(base.calls), base_left)]
    for label, w, m, c, lft in rows:
        print(f"  {label:66}{t[w]:8.3f}{cpu[w]:8.3f}{'' if m is None else f'{m:,}':>8}{c:8,}"
              f"{'' if lft is None else f'{lft:,}':>6}")
    print(f"  re-reading script / labkit: {len(kind.calls) / max(calls, 1):.2f}x the calls, "
          f"{kind.moves / max(moves, 1):.2f}x the moves; old naive script / labkit: "
          f"{len(base.calls) / max(calls, 1):.2f}x the calls; labkit / floor: {calls / max(fewest, 1):.2f}x the calls, "
          f"{t['labkit'] / max(t['floor'], 1e-9):.1f}x the time (links in cycles skipped by the scripts)")
    return {"t_plan": t["labkit"], "cpu_plan": cpu["labkit"], "moves": moves, "kind_moves": kind.moves, "base_moves": base.moves, "calls": calls,
            "kind_calls": len(kind.calls), "left": left}


def main(argv: list[str] | None = None) -> int:
    """Run both benchmarks and check the goals; exit 1 if one is missed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10,000 issues / 3,000 links and a 300-issue component")
    ap.add_argument("--seed", type=int, default=2012)
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3; --quick 1)")
    args = ap.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    big = (10_000, 3_000) if args.quick else (100_000, 30_000)
    comp = (300, 450) if args.quick else (2_000, 3_000)
    r1 = run("backlog", *backlog(*big, seed=args.seed), rounds)
    r2 = run("single component", *one_component(*comp, seed=args.seed), rounds)
    both = (r1, r2)
    goals = [
        (f"{big[0]:,}-issue backlog planned in < 2 s", r1["t_plan"] < 2.0,
         f"{r1['t_plan']:.2f} s wall, {r1['cpu_plan']:.2f} s CPU"),
        ("never more moves than either script", all(r["moves"] <= min(r["kind_moves"], r["base_moves"]) for r in both),
         ", ".join(f"{r['moves']:,} vs {r['kind_moves']:,}" for r in both)),
        (">= 3x fewer rank calls than the re-reading script", all(r["kind_calls"] >= 3 * r["calls"] for r in both),
         ", ".join(f"{r['kind_calls'] / max(r['calls'], 1):.2f}x" for r in both)),
        ("no violation left after the plan", all(r["left"] == 0 for r in both), ", ".join(str(r["left"]) for r in both)),
    ]
    print(f"\npeak memory of this process (VmHWM; every way ran in it): {vmhwm_mb():,.0f} MB")
    for text, ok, detail in goals:
        print(f"goal {'met   ' if ok else 'MISSED'}  {text} ({detail}); {load()}")
    return 0 if all(ok for _, ok, _ in goals) else 1


if __name__ == "__main__":
    sys.exit(main())

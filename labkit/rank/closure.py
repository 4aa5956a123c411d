"""Blocking constraints of a backlog as bitsets: components, cycles and the transitive closure P.

Issues are numbered per weakly connected component by backlog position (0 = highest ranked),
so ``succ[i]`` (everything ``i`` transitively blocks) and ``pred[i]`` (everything that
transitively blocks ``i``) are Python ints used as bitsets. Members of one blocking cycle
(a strongly connected component) get no constraint between each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from labkit.rank.errors import RankError


@dataclass
class Component:
    """The backlog issues of one weakly connected part of the blocks graph, with their closure."""

    keys: list[str]                 # backlog members, highest ranked first
    positions: list[int]            # their 0-based positions in the whole backlog
    succ: list[int]                 # succ[i]: bitset of members that i transitively blocks
    pred: list[int]                 # pred[i]: bitset of members that transitively block i
    nodes: list[str] = field(default_factory=list)  # every node of the part, incl. issues outside the backlog

    def q_succ(self, i: int) -> int:
        """Members i must rank above that rank above it now (violated pairs where i is the blocker)."""
        return self.succ[i] & ((1 << i) - 1)

    def q_pred(self, i: int) -> int:
        """Members that must rank above i but rank below it now (violated pairs where i is blocked)."""
        return self.pred[i] >> (i + 1) << (i + 1)


@dataclass
class Constraints:
    """The closure P of the blocking constraints of a backlog, split into independent components."""

    order: list[str]
    edges: list[tuple[str, str]]
    components: list[Component]
    cycles: list[list[str]]                       # each blocking cycle's members, as a path when possible
    comp_of: dict[str, tuple[int, int]]           # backlog key -> (component index, local index)
    scc_of: dict[str, int]                        # node -> strongly connected component id
    sccs: list[list[str]]                         # SCC members by id; ids count down in topological order
    scc_succ: list[list[int]]                     # condensation edges by SCC id
    scc_pred: list[list[int]]                     # the same edges, reversed
    direct: set[tuple[str, str]]
    adj: dict[str, list[str]] = field(default_factory=dict)    # direct blocker -> blocked
    radj: dict[str, list[str]] = field(default_factory=dict)   # direct blocked -> blockers


def _sccs(nodes: list[str], adj: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively; returned sinks first (reverse topological)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(adj.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(adj.get(w, ()))))
                    advanced = True
                    break
                if w in on_stack and index[w] < low[v]:
                    low[v] = index[w]
            if advanced:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out


def _cycle_path(members: list[str], adj: dict[str, list[str]]) -> list[str]:
    """One cycle through the first member of a strongly connected component, as a list of keys."""
    inside = set(members)
    start = members[0]
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in adj.get(v, ()):
                if w not in inside:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return path[::-1]
                if w not in parent:
                    parent[w] = v
                    nxt.append(w)
        frontier = nxt
    return list(members)


def build(order: Sequence[str], edges: Iterable[tuple[str, str]]) -> Constraints:
    """Number the backlog, find cycles and compute the closure P of the constraints per component."""
    order = list(order)
    pos: dict[str, int] = {}
    for i, key in enumerate(order):
        if key in pos:
            raise RankError(f"issue {key} appears twice in the backlog order",
                            hint="pass each issue key once, in 'ORDER BY Rank ASC' order")
        pos[key] = i
    edges = list(dict.fromkeys(edges))
    adj: dict[str, list[str]] = {}
    radj: dict[str, list[str]] = {}
    self_loops: list[str] = []
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        """Union-find root of x, with path compression."""
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:
            parent[x], x = root, parent[x]
        return root

    for a, b in edges:
        if a == b:
            self_loops.append(a)
            continue
        adj.setdefault(a, []).append(b)
        radj.setdefault(b, []).append(a)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    nodes = list(dict.fromkeys([n for e in edges for n in e if e[0] != e[1]]))
    groups: dict[str, list[str]] = {}
    for n in nodes:
        groups.setdefault(find(n), []).append(n)

    components: list[Component] = []
    comp_of: dict[str, tuple[int, int]] = {}
    bit: dict[str, int] = {}
    for members in groups.values():
        inside = sorted((n for n in members if n in pos), key=pos.__getitem__)
        if not inside:
            continue
        ci = len(components)
        for li, key in enumerate(inside):
            comp_of[key] = (ci, li)
            bit[key] = 1 << li
        components.append(Component(keys=inside, positions=[pos[k] for k in inside],
                                    succ=[0] * len(inside), pred=[0] * len(inside), nodes=members))

    sccs = _sccs(nodes, adj)              # sinks first
    scc_of: dict[str, int] = {}
    for sid, comp in enumerate(sccs):
        for n in comp:
            scc_of[n] = sid
    scc_bits = [sum(bit.get(n, 0) for n in comp) for comp in sccs]
    scc_succ: list[list[int]] = [[] for _ in sccs]
    scc_pred: list[list[int]] = [[] for _ in sccs]
    for a, b in edges:
        sa, sb = scc_of.get(a), scc_of.get(b)
        if sa is not None and sb is not None and sa != sb:
            scc_succ[sa].append(sb)
            scc_pred[sb].append(sa)
    reach = [0] * len(sccs)
    for sid in range(len(sccs)):          # successors come earlier in Tarjan's output
        r = 0
        for t in scc_succ[sid]:
            r |= scc_bits[t] | reach[t]
        reach[sid] = r
    back = [0] * len(sccs)
    for sid in range(len(sccs) - 1, -1, -1):
        r = 0
        for t in scc_pred[sid]:
            r |= scc_bits[t] | back[t]
        back[sid] = r
    for key, (ci, li) in comp_of.items():
        sid = scc_of[key]
        components[ci].succ[li] = reach[sid]
        components[ci].pred[li] = back[sid]

    cycles = [_cycle_path(sorted(c, key=lambda k: (pos.get(k, len(pos)), k)), adj)
              for c in reversed(sccs) if len(c) > 1]
    # an issue that blocks itself is a cycle of one, unless it is already named in a larger cycle
    cycles += [[k] for k in dict.fromkeys(self_loops) if k not in scc_of or len(sccs[scc_of[k]]) == 1]
    cycles = [c for c in cycles if any(k in pos for k in c)]
    return Constraints(order=order, edges=edges, components=components, cycles=cycles, comp_of=comp_of,
                       scc_of=scc_of, sccs=sccs, scc_succ=scc_succ, scc_pred=scc_pred, direct=set(edges),
                       adj=adj, radj=radj)

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
    pos: dict[str, int] = field(default_factory=dict)          # backlog key -> 0-based position in ``order``


def _sccs(n: int, adj: list[list[int]]) -> list[list[int]]:
    """Tarjan's strongly connected components of nodes 0..n-1, iteratively; returned sinks first (reverse topological).

    Nodes are numbered (lists instead of dicts: this runs once per plan over every linked issue).
    """
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        work = [(root, iter(adj[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if index[w] < 0:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, iter(adj[w])))
                    advanced = True
                    break
                if on_stack[w] and index[w] < low[v]:
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
                    on_stack[w] = False
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
    """Number the backlog, find cycles and compute the closure P of the constraints per component.

    Linked issues are numbered in order of first appearance in ``edges`` and the graph work
    (weak components, Tarjan, closure) runs on those numbers; only issues with a link are visited.
    """
    order = list(order)
    pos = dict(zip(order, range(len(order)), strict=True))
    if len(pos) != len(order):
        seen: set[str] = set()
        for key in order:
            if key in seen:
                raise RankError(f"issue {key} appears twice in the backlog order",
                                hint="pass each issue key once, in 'ORDER BY Rank ASC' order")
            seen.add(key)
    edges = list(dict.fromkeys(edges))
    adj: dict[str, list[str]] = {}
    radj: dict[str, list[str]] = {}
    self_loops: list[str] = []
    nid: dict[str, int] = {}             # linked issues numbered by first appearance in the edges
    for a, b in edges:
        if a != b:
            if a not in nid:
                nid[a] = len(nid)
            if b not in nid:
                nid[b] = len(nid)
    nodes = list(nid)
    nn = len(nodes)
    out_adj: list[list[int]] = [[] for _ in range(nn)]
    parent = list(range(nn))             # union-find over the node numbers (weak components)
    for a, b in edges:
        if a == b:
            self_loops.append(a)
            continue
        if a in adj:
            adj[a].append(b)
        else:
            adj[a] = [b]
        if b in radj:
            radj[b].append(a)
        else:
            radj[b] = [a]
        x, y = nid[a], nid[b]
        out_adj[x].append(y)
        while parent[x] != x:
            parent[x] = x = parent[parent[x]]
        while parent[y] != y:
            parent[y] = y = parent[parent[y]]
        if x != y:
            parent[x] = y
    group_of_root: dict[int, int] = {}
    groups: list[list[int]] = []
    for i in range(nn):
        r = i
        while parent[r] != r:
            r = parent[r]
        g = group_of_root.get(r)
        if g is None:
            group_of_root[r] = len(groups)
            groups.append([i])
        else:
            groups[g].append(i)

    components: list[Component] = []
    comp_of: dict[str, tuple[int, int]] = {}
    bit = [0] * nn
    at_comp = [-1] * nn                  # node number -> component and local index, for backlog members
    at_local = [0] * nn
    for members in groups:
        names = [nodes[i] for i in members]
        inside = sorted((n for n in names if n in pos), key=pos.__getitem__)
        if not inside:
            continue
        ci = len(components)
        for li, key in enumerate(inside):
            comp_of[key] = (ci, li)
            k = nid[key]
            bit[k] = 1 << li
            at_comp[k] = ci
            at_local[k] = li
        components.append(Component(keys=inside, positions=[pos[k] for k in inside],
                                    succ=[0] * len(inside), pred=[0] * len(inside), nodes=names))

    numbered = _sccs(nn, out_adj)         # sinks first
    sid_of = [0] * nn
    scc_bits = [0] * len(numbered)
    for sid, comp in enumerate(numbered):
        b = 0
        for n in comp:
            sid_of[n] = sid
            b |= bit[n]
        scc_bits[sid] = b
    sccs = [[nodes[n] for n in comp] for comp in numbered]
    scc_of: dict[str, int] = {nodes[n]: sid for sid, comp in enumerate(numbered) for n in comp}
    scc_succ: list[list[int]] = [[] for _ in numbered]
    scc_pred: list[list[int]] = [[] for _ in numbered]
    for a, b in edges:
        if a == b:
            continue
        sa, sb = sid_of[nid[a]], sid_of[nid[b]]
        if sa != sb:
            scc_succ[sa].append(sb)
            scc_pred[sb].append(sa)
    reach = [0] * len(numbered)
    for sid in range(len(numbered)):      # successors come earlier in Tarjan's output
        r = 0
        for t in scc_succ[sid]:
            r |= scc_bits[t] | reach[t]
        reach[sid] = r
    back = [0] * len(numbered)
    for sid in range(len(numbered) - 1, -1, -1):
        r = 0
        for t in scc_pred[sid]:
            r |= scc_bits[t] | back[t]
        back[sid] = r
    for k in range(nn):
        ci = at_comp[k]
        if ci >= 0:
            sid = sid_of[k]
            comp = components[ci]
            comp.succ[at_local[k]] = reach[sid]
            comp.pred[at_local[k]] = back[sid]

    cycles = [_cycle_path(sorted(c, key=lambda k: (pos.get(k, len(pos)), k)), adj)
              for c in reversed(sccs) if len(c) > 1]
    # an issue that blocks itself is a cycle of one, unless it is already named in a larger cycle
    cycles += [[k] for k in dict.fromkeys(self_loops) if k not in scc_of or len(sccs[scc_of[k]]) == 1]
    cycles = [c for c in cycles if any(k in pos for k in c)]
    return Constraints(order=order, edges=edges, components=components, cycles=cycles, comp_of=comp_of,
                       scc_of=scc_of, sccs=sccs, scc_succ=scc_succ, scc_pred=scc_pred, direct=set(edges),
                       adj=adj, radj=radj, pos=pos)

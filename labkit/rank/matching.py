"""Maximum bipartite matching (Hopcroft–Karp) and a maximum antichain (König) on bitset adjacency."""

from __future__ import annotations

from collections.abc import Sequence


def _bits(x: int):
    """Yield the indices of the set bits of x, lowest first."""
    while x:
        low = x & -x
        yield low.bit_length() - 1
        x ^= low


def hopcroft_karp(adj: Sequence[int], n_right: int) -> tuple[list[int], list[int]]:
    """Return (match_left, match_right) of a maximum matching; ``adj[u]`` is the bitset of u's right neighbours.

    -1 marks an unmatched vertex. Each phase finds a maximal set of shortest vertex-disjoint
    augmenting paths (BFS layers, then iterative DFS), so there are O(sqrt(V)) phases.
    """
    n_left = len(adj)
    match_l = [-1] * n_left
    match_r = [-1] * n_right
    free_r = (1 << n_right) - 1
    for u in range(n_left):                 # greedy start: most vertices get matched here
        cand = adj[u] & free_r
        if cand:
            v = cand.bit_length() - 1
            match_l[u], match_r[v] = v, u
            free_r ^= 1 << v
    inf = n_left + 1
    while True:
        dist = [inf] * n_left
        frontier = [u for u in range(n_left) if match_l[u] < 0 and adj[u]]
        for u in frontier:
            dist[u] = 0
        seen_r = 0
        found = False
        layer = 0
        while frontier and not found:
            nxt = []
            for u in frontier:
                cand = adj[u] & ~seen_r
                seen_r |= cand
                for v in _bits(cand):
                    w = match_r[v]
                    if w < 0:
                        found = True
                    elif dist[w] == inf:
                        dist[w] = layer + 1
                        nxt.append(w)
            frontier = nxt
            layer += 1
        if not found:
            return match_l, match_r
        live = seen_r
        augmented = False
        for root in range(n_left):
            if match_l[root] >= 0 or dist[root] != 0:
                continue
            stack = [root]
            cands = [adj[root] & live]
            chosen: list[int] = []
            while stack:
                u = stack[-1]
                cand = cands[-1] & live
                if not cand:
                    dist[u] = inf
                    stack.pop()
                    cands.pop()
                    if chosen:
                        chosen.pop()
                    continue
                low = cand & -cand
                v = low.bit_length() - 1
                cands[-1] = cand ^ low
                w = match_r[v]
                if w < 0:                   # augment along the stack
                    live ^= low
                    chosen.append(v)
                    for x, y in zip(stack, chosen, strict=True):
                        match_l[x], match_r[y] = y, x
                    augmented = True
                    break
                if dist[w] == dist[u] + 1:  # follow the layered graph only; v is used up either way
                    live ^= low
                    stack.append(w)
                    cands.append(adj[w] & live)
                    chosen.append(v)
        if not augmented:
            return match_l, match_r


def max_antichain(adj: Sequence[int], active: int | None = None) -> tuple[int, int]:
    """Return (antichain bitset, matching size) for the order relation whose strict successors are ``adj``.

    ``adj[u]`` must be transitively closed (a strict partial order). By Dilworth and König the
    largest antichain has n minus the maximum matching elements: after matching, the vertices
    reachable by alternating paths from unmatched left vertices give a minimum vertex cover,
    and the elements with neither copy in it form the antichain. ``active`` restricts to a subset.
    """
    n = len(adj)
    if active is None:
        active = (1 << n) - 1
    a = [adj[u] & active if active >> u & 1 else 0 for u in range(n)]
    match_l, match_r = hopcroft_karp(a, n)
    size = sum(1 for v in match_l if v >= 0)
    in_zl = 0
    frontier = [u for u in _bits(active) if match_l[u] < 0]
    for u in frontier:
        in_zl |= 1 << u
    in_zr = 0
    while frontier:
        new = 0
        for u in frontier:
            new |= a[u]
        new &= ~in_zr
        in_zr |= new
        frontier = []
        for v in _bits(new):
            w = match_r[v]
            if w >= 0 and not in_zl >> w & 1:
                in_zl |= 1 << w
                frontier.append(w)
    return in_zl & ~in_zr & active, size

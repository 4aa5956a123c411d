"""The smallest set of rank moves that puts every blocker above what it blocks, batched into Agile rank calls."""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from itertools import filterfalse
from typing import Any

from labkit.bulk import no_gc
from labkit.rank.closure import Component, Constraints, build
from labkit.rank.errors import RankError
from labkit.rank.graph import edge_list
from labkit.rank.matching import _bits, max_antichain
from labkit.rank.violations import Cycle, cycles_of

MAX_RANK_BATCH = 50  # Agile REST: at most 50 issues per PUT /rest/agile/1.0/issue/rank
SHARE_REACH = 100    # a moved issue may land up to this many unmoved issues past its nearest place, to share a call


@dataclass(frozen=True)
class Move:
    """One issue to re-rank, from/to its 1-based position, with the violated pair that forces it."""

    issue: str
    from_pos: int
    to_pos: int
    direction: str        # "up"/"down" past issues that stay put; "same" when only moved ones pass it
    blocker: str          # the pair (blocker, blocked) that was out of order; issue is one of them
    blocked: str


@dataclass(frozen=True)
class RankCall:
    """One Agile rank call: put ``issues`` (in this order) just before ``before`` or just after ``after``."""

    issues: tuple[str, ...]
    before: str | None = None
    after: str | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body of ``PUT /rest/agile/1.0/issue/rank``."""
        body: dict[str, Any] = {"issues": list(self.issues)}
        if self.before is not None:
            body["rankBeforeIssue"] = self.before
        else:
            body["rankAfterIssue"] = self.after
        return body

    def describe(self) -> str:
        """One line saying what the call does."""
        where = f"before {self.before}" if self.before is not None else f"after {self.after}"
        return f"rank {', '.join(self.issues)} {where}"


@dataclass
class Plan:
    """A re-rank plan: the moves, the rank calls that make them, and the order they lead to."""

    order: list[str]
    final_order: list[str]
    moves: list[Move]
    calls: list[RankCall]
    cycles: list[Cycle] = field(default_factory=list)
    blocks: list[tuple[str, str]] = field(default_factory=list)
    violated_pairs: int = 0
    jql: str | None = None
    pinned: tuple[str, ...] = ()

    @property
    def moved(self) -> list[str]:
        """Keys of the issues that move."""
        return [m.issue for m in self.moves]

    def __len__(self) -> int:
        """Number of moves."""
        return len(self.moves)

    def to_frame(self):  # -> pandas.DataFrame
        """The moves as a table (issue, from_pos, to_pos, direction, blocker, blocked)."""
        from labkit.tables import to_frame

        return to_frame(self.moves, columns=list(Move.__dataclass_fields__))

    def calls_frame(self):  # -> pandas.DataFrame
        """The rank calls as a table, in the order they will be sent: exactly what a dry run would do."""
        from labkit.tables import to_frame

        return to_frame([{"call": n + 1, "issues": ", ".join(c.issues), "count": len(c.issues),
                          "before": c.before, "after": c.after} for n, c in enumerate(self.calls)],
                        columns=["call", "issues", "count", "before", "after"])

    def summary(self) -> dict[str, Any]:
        """Counts for a one-line report."""
        return {"issues": len(self.order), "violated_pairs": self.violated_pairs, "moves": len(self.moves),
                "rank_calls": len(self.calls), "cycles": len(self.cycles)}


def rank_calls(final_order: Sequence[str], moved: Collection[str], batch_size: int = MAX_RANK_BATCH) -> list[RankCall]:
    """Group the moved issues into rank calls of at most ``batch_size``, anchored on issues that stay put.

    Each run of consecutive moved issues in ``final_order`` goes right after the unmoved issue above
    it (chunks chained after each other), or, at the top of the backlog, right before the unmoved
    issue below it (last chunk first).
    """
    if not 1 <= batch_size <= MAX_RANK_BATCH:
        raise RankError(f"batch size {batch_size} is outside 1..{MAX_RANK_BATCH}",
                        hint="the Agile rank API takes at most 50 issues per call")
    calls: list[RankCall] = []
    n = len(final_order)
    at = [i for i, key in enumerate(final_order) if key in moved]
    r = 0
    while r < len(at):
        start = end = at[r]                      # a run: consecutive moved issues, unmoved ones around it
        r += 1
        while r < len(at) and at[r] == end + 1:
            end = at[r]
            r += 1
        run = final_order[start:end + 1]
        chunks = [run[i:i + batch_size] for i in range(0, len(run), batch_size)]
        if start > 0:                            # right after the unmoved issue above it, chunks chained
            anchor = final_order[start - 1]
            for ch in chunks:
                calls.append(RankCall(tuple(ch), after=anchor))
                anchor = ch[-1]
        elif end + 1 < n:                        # at the top: before the unmoved issue below, last chunk first
            anchor = final_order[end + 1]
            for ch in reversed(chunks):
                calls.append(RankCall(tuple(ch), before=anchor))
                anchor = ch[0]
        else:
            raise RankError("every issue of the backlog would move, so no rank call has an anchor",
                            hint="this cannot happen for a plan from plan_moves; check the order given")
    return calls


def _stay_sets(cons: Constraints, pinned: set[str]) -> list[int]:
    """Per component, the bitset of members that keep their place: a largest antichain of Q (pinned ones forced in)."""
    stays = []
    for comp in cons.components:
        n = len(comp.keys)
        everyone = (1 << n) - 1
        qadj = [comp.q_succ(i) for i in range(n)]
        if not any(qadj):
            stays.append(everyone)
            continue
        pins = sum(1 << i for i, k in enumerate(comp.keys) if k in pinned)
        active = everyone
        if pins:
            forced = 0
            for i in _bits(pins):
                if qadj[i] & pins:
                    j = (qadj[i] & pins).bit_length() - 1
                    raise RankError(f"pinned issues {comp.keys[i]} and {comp.keys[j]} are out of order with each other",
                                    hint="unpin one of them so it can move")
                forced |= qadj[i] | comp.q_pred(i)
            active = everyone & ~forced & ~pins
        anti, _ = max_antichain(qadj, active)
        stays.append(anti | pins)
    return stays


def _partner(comp: Component, i: int, stay: int, local: dict[str, int], cons: Constraints,
             moved_up: bool) -> tuple[str, str]:
    """The violated pair (blocker, blocked) that forces member i to move.

    A direct link is preferred over a transitive one, then a partner that stays, then the one that
    decides where the issue lands (the farthest on the side it moves to).
    """
    key = comp.keys[i]
    up, down = comp.q_succ(i), comp.q_pred(i)
    direct = 0
    for other in cons.adj.get(key, ()):          # key blocks other, other ranks above it
        j = local.get(other)
        if j is not None and up >> j & 1:
            direct |= 1 << j
    for other in cons.radj.get(key, ()):         # other blocks key, other ranks below it
        j = local.get(other)
        if j is not None and down >> j & 1:
            direct |= 1 << j
    q = direct or (up | down)
    cand = (q & stay) or q
    above = cand & ((1 << i) - 1)
    below = cand >> (i + 1) << (i + 1)
    if above and (moved_up or not below):        # the highest issue it must go above decides where it lands
        j = (above & -above).bit_length() - 1
        return key, comp.keys[j]
    j = below.bit_length() - 1                   # the lowest issue it must go below
    return comp.keys[j], key


def _slots(cons: Constraints, ci: int, stay: int, uidx: dict[str, int], gap0: dict[str, int],
           n_unmoved: int) -> tuple[dict[str, int], dict[int, int]]:
    """Choose the gap between unmoved issues for each moved member of component ci, and a P-consistent emission rank.

    The gap starts as the old position clamped between the lowest unmoved blocker and the highest
    unmoved blocked issue, then is made monotone along the blocking order, once pushing blocked
    issues down and once pulling blockers up; the variant with less total displacement wins.
    """
    comp = cons.components[ci]
    keys, pred, succ = comp.keys, comp.pred, comp.succ
    s0: dict[str, int] = {}
    for i in _bits(((1 << len(keys)) - 1) & ~stay):     # the moved members, highest ranked first
        key = keys[i]
        lp = pred[i] & stay
        ls = succ[i] & stay
        lb = uidx[keys[lp.bit_length() - 1]] + 1 if lp else 0
        ub = uidx[keys[(ls & -ls).bit_length() - 1]] if ls else n_unmoved
        s0[key] = min(max(gap0[key], lb), ub)
    scc_of = cons.scc_of
    members: dict[int, list[str]] = {}
    for n in comp.nodes:
        sid = scc_of[n]
        if sid in members:
            members[sid].append(n)
        else:
            members[sid] = [n]
    sids = sorted(members, reverse=True)   # blockers first

    results = []
    for down in (True, False):
        incoming: dict[int, int] = {}
        slot: dict[str, int] = {}
        for sid in (sids if down else sids[::-1]):
            inc = incoming.get(sid)
            vals = []     # each member's own gap bound: its clamped gap if moved, beside itself if it stays
            for k in members[sid]:
                v = s0.get(k)
                if v is not None:
                    vals.append(v)
                    slot[k] = v if inc is None else (max(v, inc) if down else min(v, inc))
                    continue
                u = uidx.get(k)
                if u is not None:
                    vals.append(u + 1 if down else u)
                # else: outside the backlog, no place of its own
            out = [*vals, inc] if inc is not None else vals
            if not out:
                continue
            val = max(out) if down else min(out)
            targets = cons.scc_succ[sid] if down else cons.scc_pred[sid]
            for t in targets:
                cur = incoming.get(t)
                incoming[t] = val if cur is None else (max(cur, val) if down else min(cur, val))
        cost = sum(abs(slot[k] - gap0[k]) for k in slot)
        results.append((cost, slot))
    slot = min(results, key=lambda r: r[0])[1]

    # Kahn over the condensation, most urgent (lowest gap, then old position) first.
    pos = {k: p for k, p in zip(comp.keys, comp.positions, strict=True)}
    indeg = {sid: 0 for sid in sids}
    for sid in sids:
        for t in cons.scc_succ[sid]:
            indeg[t] += 1

    def key_of(sid: int) -> tuple[int, int]:
        """Heap priority of an SCC: its most urgent moved member; SCCs without one go first."""
        ks = [(slot[k], pos[k]) for k in members[sid] if k in slot]
        return min(ks) if ks else (-1, -1)

    heap = [(key_of(s), s) for s in sids if indeg[s] == 0]
    heapq.heapify(heap)
    emit: dict[int, int] = {}
    while heap:
        _, sid = heapq.heappop(heap)
        emit[sid] = len(emit)
        for t in cons.scc_succ[sid]:
            indeg[t] -= 1
            if indeg[t] == 0:
                heapq.heappush(heap, (key_of(t), t))
    return slot, {sid: emit[sid] for sid in sids}


def _shared_gaps(cons: Constraints, stays: list[int], uidx: dict[str, int], gap0: dict[str, int],
                 natural: dict[str, int], emits: dict[str, int], n_unmoved: int) -> dict[str, int]:
    """Choose each moved issue's gap so that moved issues share as few gaps as possible: one rank call carries a gap.

    The set of moved issues is fixed (the move count stays minimal); only where they land is chosen.
    An issue moving up may go anywhere between its lowest unmoved blocker and its natural gap (the
    nearest to where it was), one moving down between its natural gap and its highest unmoved blocked
    issue, in both cases at most :data:`SHARE_REACH` unmoved issues past its natural gap. Each side is a minimum stabbing of those intervals (greedy, so every chosen gap is some
    issue's natural gap: nobody is pushed to an end of the backlog); a last pass in blocking order
    keeps every moved blocker at or above what it blocks.
    """
    up: list[tuple[int, int, str]] = []
    down: list[tuple[int, int, str]] = []
    for comp, stay in zip(cons.components, stays, strict=True):
        for i, key in enumerate(comp.keys):
            if key not in natural:
                continue
            lp, ls = comp.pred[i] & stay, comp.succ[i] & stay
            lb = uidx[comp.keys[lp.bit_length() - 1]] + 1 if lp else 0
            ub = uidx[comp.keys[(ls & -ls).bit_length() - 1]] if ls else n_unmoved
            n = min(max(natural[key], lb), ub)
            if n < gap0[key]:
                up.append((max(lb, n - SHARE_REACH), n, key))
            else:
                down.append((n, min(ub, n + SHARE_REACH) if n > gap0[key] else n, key))
    gaps: dict[str, int] = {}
    point = -1
    for lb, n, key in sorted(up, key=lambda t: t[1]):       # by right end: a new gap is this issue's own
        if point < lb:
            point = n
        gaps[key] = point
    point = n_unmoved + 1
    for n, ub, key in sorted(down, key=lambda t: -t[0]):    # mirrored, by left end from the bottom
        if point > ub:
            point = n
        gaps[key] = point
    # blockers at or above what they block (members of one cycle are not ordered among themselves)
    for comp in cons.components:
        moved = [i for i in range(len(comp.keys)) if comp.keys[i] in gaps]
        if not moved:
            continue
        moved_bits = sum(1 << i for i in moved)
        for i in sorted(moved, key=lambda i: emits[comp.keys[i]]):
            above = comp.pred[i] & moved_bits
            while above:
                j = (above & -above).bit_length() - 1
                above &= above - 1
                if gaps[comp.keys[j]] > gaps[comp.keys[i]]:
                    gaps[comp.keys[i]] = gaps[comp.keys[j]]
    return gaps


def _merge_gap(items: Collection[tuple[int, int, int, str]]) -> list[str]:
    """Order the moved issues that share one gap: each component's in blocking order, interleaved by old position."""
    if len(items) <= 1:
        return [key for *_, key in items]
    runs: dict[int, list[tuple[int, int, int, str]]] = {}
    for item in items:
        runs.setdefault(item[2], []).append(item)
    seqs = [sorted(r) for r in runs.values()]   # (emission rank, old position) within a component
    heap = [(seq[0][1], n, 0) for n, seq in enumerate(seqs)]
    heapq.heapify(heap)
    out = []
    while heap:
        _, n, at = heapq.heappop(heap)
        out.append(seqs[n][at][3])
        if at + 1 < len(seqs[n]):
            heapq.heappush(heap, (seqs[n][at + 1][1], n, at + 1))
    return out


def plan_moves(order: Sequence[str], blocks: Any, *, pinned: Collection[str] = (), jql: str | None = None,
               batch_size: int = MAX_RANK_BATCH) -> Plan:
    """Plan the fewest issue moves that leave no issue ranked above something that (transitively) blocks it.

    With P the transitive closure of the constraints and Q = P ∩ (reverse of ``order``), a set of
    issues can keep its place exactly when it is an antichain of Q; the plan keeps a largest one
    (Dilworth/König via Hopcroft–Karp, per independent component), so the number of moves is
    provably minimal. Unmoved issues keep their order; each moved issue lands as near its old
    position as the constraints allow. Blocking cycles are reported in ``cycles`` and their members
    are not ordered among themselves. ``pinned`` issues are never moved (used to plan around
    issues the server refused to rank). The cyclic garbage collector is paused meanwhile
    (:func:`labkit.bulk.no_gc`): a 100,000-issue plan builds some 10^5 small containers and forms no cycle.
    """
    with no_gc():
        return _plan_moves(order, blocks, pinned=pinned, jql=jql, batch_size=batch_size)


def _plan_moves(order: Sequence[str], blocks: Any, *, pinned: Collection[str], jql: str | None,
                batch_size: int) -> Plan:
    """The body of :func:`plan_moves`."""
    order = list(order)
    edges = edge_list(blocks)
    cons = build(order, edges)
    pinned_set = set(pinned)
    stays = _stay_sets(cons, pinned_set)
    moved: set[str] = set()
    for comp, stay in zip(cons.components, stays, strict=True):
        for i in range(len(comp.keys)):
            if not stay >> i & 1:
                moved.add(comp.keys[i])
    violated = sum(comp.q_pred(i).bit_count() for comp in cons.components for i in range(len(comp.keys)))
    if not moved:
        return Plan(order=order, final_order=list(order), moves=[], calls=[], cycles=cycles_of(cons),
                    blocks=edges, violated_pairs=violated, jql=jql, pinned=tuple(pinned))

    unmoved = list(filterfalse(moved.__contains__, order))
    pos = cons.pos
    moved_at = sorted(pos[k] for k in moved)
    # gaps count unmoved issues: an issue's gap is how many unmoved issues rank above it
    gap0 = {order[p]: p - n for n, p in enumerate(moved_at)}
    uidx: dict[str, int] = {}    # unmoved members of the components -> index among the unmoved issues
    for comp, stay in zip(cons.components, stays, strict=True):
        for i in _bits(stay):
            p = comp.positions[i]
            uidx[comp.keys[i]] = p - bisect_left(moved_at, p)
    buckets: dict[int, list[tuple[int, int, int, str]]] = {}
    reasons: dict[str, tuple[int, int, int, dict[str, int]]] = {}
    natural: dict[str, int] = {}
    emits: dict[str, int] = {}
    for ci, (comp, stay) in enumerate(zip(cons.components, stays, strict=True)):
        if stay == (1 << len(comp.keys)) - 1:
            continue
        slot, emit = _slots(cons, ci, stay, uidx, gap0, len(unmoved))
        local = {k: i for i, k in enumerate(comp.keys)}
        for i in _bits(((1 << len(comp.keys)) - 1) & ~stay):   # the moved members: exactly the keys of slot
            key = comp.keys[i]
            natural[key] = slot[key]
            emits[key] = emit[cons.scc_of[key]]
            reasons[key] = (ci, i, stay, local)
    gaps = _shared_gaps(cons, stays, uidx, gap0, natural, emits, len(unmoved))
    for key, (ci, i, _, _) in reasons.items():
        buckets.setdefault(gaps[key], []).append((emits[key], cons.components[ci].positions[i], ci, key))
    final: list[str] = []  # the unmoved issues in order, each gap's moved issues before the issue of the gap
    moves = []
    at = 0
    for g in sorted(buckets):
        final += unmoved[at:g]
        at = g
        here = _merge_gap(buckets[g])
        to = len(final)
        final += here
        for key in here:
            frm = pos[key]
            ci, i, stay, local = reasons[key]
            # up/down relative to the issues that stay put (its number also shifts as others move)
            g0 = gap0[key]
            direction = "up" if g < g0 else "down" if g > g0 else ("up" if to < frm else "down" if to > frm else "same")
            blocker, blocked = _partner(cons.components[ci], i, stay, local, cons, direction == "up")
            moves.append(Move(issue=key, from_pos=frm + 1, to_pos=to + 1, direction=direction,
                              blocker=blocker, blocked=blocked))
            to += 1
    final += unmoved[at:]
    moves.sort(key=lambda m: m.from_pos)
    return Plan(order=order, final_order=final, moves=moves, calls=rank_calls(final, moved, batch_size),
                cycles=cycles_of(cons), blocks=edges, violated_pairs=violated, jql=jql, pinned=tuple(pinned))


def apply_calls(order: Sequence[str], calls: Sequence[RankCall]) -> list[str]:
    """The order that results from making ``calls`` on ``order`` with Agile rank semantics (in memory, linked list)."""
    keys = list(order)
    if not keys:
        return []
    head, tail = object(), object()
    nxt: dict[Any, Any] = dict(zip([head, *keys], [*keys, tail], strict=True))
    prv: dict[Any, Any] = dict(zip([*keys, tail], [head, *keys], strict=True))
    for call in calls:
        anchor = call.before if call.before is not None else call.after
        if anchor not in nxt or anchor in call.issues or any(k not in nxt for k in call.issues):
            raise RankError(f"rank call '{call.describe()}' names an issue that is not in the backlog or ranks "
                            "an issue against itself", hint="plan the calls from this backlog's order")
        for k in call.issues:
            p, n = prv[k], nxt[k]
            nxt[p], prv[n] = n, p
        left = prv[anchor] if call.before is not None else anchor
        for k in call.issues:
            right = nxt[left]
            nxt[left], prv[k], nxt[k], prv[right] = k, left, right, k
            left = k
    out = []
    k = nxt[head]
    while k is not tail:
        out.append(k)
        k = nxt[k]
    return out

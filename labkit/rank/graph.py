"""The blocker → blocked graph of a backlog, read from Jira REST issue links."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from labkit.jira.model import BlockingRule, blocking_rule
from labkit.rank.errors import RankError


@dataclass(frozen=True)
class BlockLink:
    """One blocking link: ``blocker`` must rank above ``blocked``."""

    link_id: str
    blocker: str
    blocked: str
    link_type: str
    cross_project: bool
    blocker_status: str | None = None
    blocker_done: bool = False


@dataclass
class BlocksGraph:
    """Blocker → blocked edges of a set of issues, deduplicated by link id."""

    links: list[BlockLink] = field(default_factory=list)
    skipped_done: list[BlockLink] = field(default_factory=list)

    @property
    def edges(self) -> list[tuple[str, str]]:
        """Distinct (blocker, blocked) pairs in first-seen order."""
        return list(dict.fromkeys((lk.blocker, lk.blocked) for lk in self.links))

    def blockers_of(self, key: str) -> list[str]:
        """Issues that directly block ``key``."""
        return list(dict.fromkeys(lk.blocker for lk in self.links if lk.blocked == key))

    def blockers_map(self) -> dict[str, list[str]]:
        """Every blocked issue with its direct blockers."""
        out: dict[str, list[str]] = {}
        for a, b in self.edges:
            out.setdefault(b, []).append(a)
        return out

    @property
    def cross_project(self) -> list[BlockLink]:
        """Links whose blocker lives in another project than the issue it blocks."""
        return [lk for lk in self.links if lk.cross_project]

    def __iter__(self):
        """Iterate over the distinct (blocker, blocked) pairs."""
        return iter(self.edges)

    def __len__(self) -> int:
        """Number of links (after deduplication)."""
        return len(self.links)

    def to_frame(self):  # -> pandas.DataFrame
        """The links as a table, one row per link."""
        from labkit.tables import to_frame

        return to_frame(self.links, columns=[f for f in BlockLink.__dataclass_fields__])


def project_of(key: str) -> str:
    """Project key of an issue key (``"TIMOB-12"`` → ``"TIMOB"``)."""
    return key.rsplit("-", 1)[0] if "-" in key else key


def _raw(issue: Any) -> Mapping[str, Any]:
    """The JSON dict of an issue (a dict or a pycontribs Issue), checked to be one."""
    raw = getattr(issue, "raw", issue)  # pycontribs jira Issue objects carry the JSON in .raw
    if not isinstance(raw, Mapping) or "key" not in raw:
        raise RankError("an issue given to blocks_graph is not Jira REST issue JSON (no 'key')",
                        hint="pass the issues of a search result, e.g. search(...)['issues']")
    return raw


def _status(fields: Mapping[str, Any] | None) -> tuple[str | None, bool]:
    """(status name, is done) from an issue's fields."""
    status = (fields or {}).get("status") or {}
    cat = (status.get("statusCategory") or {}).get("key")
    return status.get("name"), cat == "done"


def link_direction(link_type: Mapping[str, Any], rule: BlockingRule | None = None) -> int:
    """+1 if an ``outwardIssue`` under this link type is blocked by the viewing issue, -1 if reversed, 0 if not blocking.

    The rule is :class:`labkit.jira.model.BlockingRule` (the active profile's unless given).
    """
    return (rule or blocking_rule()).type_direction(link_type)


def blocks_graph(issues: Iterable[Any], *, include_done: bool = False, rule: BlockingRule | None = None) -> BlocksGraph:
    """Build the blocker → blocked graph from REST issue JSON (``fields.issuelinks``).

    Which links block is :class:`labkit.jira.model.BlockingRule` (``rule``, else the active
    profile's): by wording ("blocks" / "is blocked by", either way round, any case), plus the link
    types a profile names. Under a standard type, on issue X, ``inwardIssue`` Y reads "X is blocked by Y" and
    ``outwardIssue`` Z reads "X blocks Z". Each link shows on both its issues: kept once per link id.
    By default links whose blocker is done (status category ``done``) are left out (kept in
    ``skipped_done``); cross-project links are kept and flagged.
    """
    rule = rule or blocking_rule()
    raws = [_raw(i) for i in issues]
    own_status = {r["key"]: _status(r.get("fields")) for r in raws}
    seen: set[str] = set()
    graph = BlocksGraph()
    for raw in raws:
        key = raw["key"]
        for link in (raw.get("fields") or {}).get("issuelinks") or []:
            direction = rule.type_direction(link.get("type") or {})
            if not direction:
                continue
            if "outwardIssue" in link:
                other, x_blocks_other = link["outwardIssue"], direction > 0
            elif "inwardIssue" in link:
                other, x_blocks_other = link["inwardIssue"], direction < 0
            else:
                continue
            other_key = other.get("key")
            if not other_key:
                continue
            link_id = str(link.get("id") or f"{key}/{other_key}/{(link.get('type') or {}).get('name')}")
            if link_id in seen:
                continue
            seen.add(link_id)
            blocker, blocked = (key, other_key) if x_blocks_other else (other_key, key)
            status, done = own_status.get(blocker) or _status(other.get("fields"))
            lk = BlockLink(link_id=link_id, blocker=blocker, blocked=blocked,
                           link_type=str((link.get("type") or {}).get("name", "")),
                           cross_project=project_of(blocker) != project_of(blocked),
                           blocker_status=status, blocker_done=done)
            (graph.skipped_done if done and not include_done else graph.links).append(lk)
    return graph


def edge_list(blocks: Any) -> list[tuple[str, str]]:
    """Normalise a BlocksGraph, a mapping blocked → blockers or an iterable of pairs to (blocker, blocked) pairs."""
    if isinstance(blocks, BlocksGraph):
        return blocks.edges
    if isinstance(blocks, Mapping):
        return [(a, b) for b, blockers in blocks.items() for a in blockers]
    out = []
    for pair in blocks:
        if isinstance(pair, BlockLink):
            out.append((pair.blocker, pair.blocked))
            continue
        try:
            a, b = pair
        except (TypeError, ValueError):
            raise RankError(f"{pair!r} is not a (blocker, blocked) pair",
                            hint="pass blocks_graph(issues) or a list of (blocker, blocked) key pairs") from None
        out.append((str(a), str(b)))
    return list(dict.fromkeys(out))

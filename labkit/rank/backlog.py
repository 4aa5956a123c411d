"""Where a backlog comes from: REST issue JSON files (offline) or a Jira's JQL, and its order.

    from labkit.rank.backlog import backlog_jql, load_issues, read_backlog
    keys, issues = load_issues("dump.jsonl.gz")             # or "demo"
    order, graph = read_backlog(client, backlog_jql("project = DEMO"))
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from labkit.jira.errors import JqlSyntaxError
from labkit.jira.jql import Query, SortKey, parse, render
from labkit.jira.jql.edit import with_order
from labkit.jira.model import RANK_NAMES
from labkit.rank.errors import RankError

LINK_FIELDS = ["issuelinks", "status", "summary"]


def load_issues(source: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Read REST issues from ``demo``, a JSON/JSONL(.gz) file or a directory; return (keys in input order, issues)."""
    if source == "demo":
        from labkit.rank.demo import demo_backlog

        return demo_backlog()
    path = Path(source)
    if not path.exists():
        raise RankError(f"{source} does not exist", hint="pass a .json/.jsonl file, a directory of them, or 'demo'")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith((".json", ".jsonl", ".jsonl.gz"))) \
        if path.is_dir() else [path]
    issues: list[dict[str, Any]] = []
    for f in files:
        try:
            if f.name.endswith((".jsonl", ".jsonl.gz")):
                opener = gzip.open if f.name.endswith(".gz") else open
                with opener(f, "rt", encoding="utf-8") as fh:
                    issues += [json.loads(line) for line in fh if line.strip()]
                continue
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RankError(f"{f} is not readable JSON ({exc})", hint="pass REST issue JSON as Jira returns it") from None
        if isinstance(data, dict) and "issues" in data:
            issues += data["issues"]
        elif isinstance(data, dict):
            issues.append(data)
        elif isinstance(data, list):
            issues += data
    issues = [i for i in issues if isinstance(i, dict) and "key" in i]
    if not issues:
        raise RankError(f"no Jira issues found in {source}", hint="each issue needs a 'key' and 'fields'")
    return list(dict.fromkeys(i["key"] for i in issues)), issues


def read_order(path: str | None, keys: list[str], source: str = "the issues") -> list[str]:
    """Return the backlog order: the keys of the order file at ``path`` (top first), or ``keys`` when None."""
    if not path:
        return keys
    try:
        lines = Path(path).read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise RankError(f"cannot read the order file {path} ({reason})",
                        hint="one issue key per line, top of the backlog first") from None
    if not lines:
        raise RankError(f"the order file {path} names no issue keys",
                        hint="one issue key per line, top of the backlog first")
    known = set(keys)
    unknown = [k for k in dict.fromkeys(lines) if k not in known]
    if unknown:
        raise RankError(f"the order file {path} names {len(unknown)} issue(s) not in {source} "
                        f"(first: {unknown[0]})",
                        hint="list only keys of the issues given with --issues, top of the backlog first")
    return list(dict.fromkeys(lines))


def backlog_jql(jql: str) -> str:
    """Return the JQL with ``ORDER BY Rank ASC`` (added when missing); any other ORDER BY is a user error."""
    jql = (jql or "").strip()
    if not jql:
        raise RankError("--jql is empty", hint='pass e.g. --jql "project = DEMO ORDER BY Rank ASC"')
    try:
        query = parse(jql)
    except JqlSyntaxError as exc:
        raise RankError(f"--jql is not valid JQL: {exc.reason} at position {exc.position}",
                        hint=exc.hint or "fix the query and run it again") from None
    if not query.order_by:
        return render(with_order(query, (SortKey("Rank", "ASC"),)))
    keys = query.order_by
    if len(keys) != 1 or keys[0].field.lower() not in RANK_NAMES or keys[0].direction == "DESC":
        order = render(Query(None, keys)).removeprefix("ORDER BY ")
        raise RankError(f"the backlog must be read in rank order, not ORDER BY {order}",
                        hint="end the JQL with ORDER BY Rank ASC (or leave ORDER BY out)")
    return jql


def read_backlog(client: Any, jql: str, include_done: bool = False) -> tuple[list[str], Any]:
    """Read a backlog from Jira: (keys in rank order, BlocksGraph of its blocking links)."""
    from labkit.rank import blocks_graph

    order = client.backlog_order(jql)
    if not order:
        raise RankError(f"the JQL {jql!r} finds no issues", hint="check the project key and the filter")
    return order, blocks_graph(client.search_issues(jql, LINK_FIELDS, progress=False), include_done=include_done)

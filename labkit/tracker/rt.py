"""RT-style ticket exports (another tracker's CSV or JSON) read into tickets, and a generator of realistic ones."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from labkit.jira.errors import JiraError

# RT's link kinds; each names the ticket on the other side.
RT_LINK_KINDS = ("DependsOn", "DependedOnBy", "RefersTo", "ReferredToBy", "MemberOf", "HasMember")
COLUMNS = ("id", "subject", "queue", "status", "requestor", "created", "content", "links")


@dataclass(frozen=True)
class Ticket:
    """One ticket of the source tracker, with its links as (kind, other ticket id)."""

    id: str
    subject: str
    queue: str = ""
    status: str = "new"
    requestor: str = ""
    created: str = ""
    content: str = ""
    links: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def parse_links(value: str | list | None, *, where: str = "") -> tuple[tuple[str, str], ...]:
    """Read links written as ``DependsOn:12 RefersTo:7`` (CSV) or a list of {kind, id} / [kind, id] (JSON)."""
    if not value:
        return ()
    items: list[tuple[str, str]] = []
    raw = value.replace(",", " ").split() if isinstance(value, str) else value
    for item in raw:
        if isinstance(item, str):
            kind, _, other = item.partition(":")
        elif isinstance(item, dict):
            kind, other = item.get("kind", item.get("type", "")), str(item.get("id", item.get("target", "")))
        elif isinstance(item, list | tuple) and len(item) == 2:
            kind, other = item[0], str(item[1])
        else:
            kind, other = "", ""
        if kind not in RT_LINK_KINDS or not other:
            raise JiraError(f"{where}bad link {item!r}",
                            hint=f"write links as KIND:ID with KIND one of {', '.join(RT_LINK_KINDS)}")
        items.append((kind, other.strip()))
    return tuple(items)


def _ticket(row: dict, where: str) -> Ticket:
    """Build a Ticket from one export row, naming the row when id or subject is missing."""
    missing = [c for c in ("id", "subject") if not str(row.get(c) or "").strip()]
    if missing:
        raise JiraError(f"{where}ticket without {' and '.join(missing)}", hint="every ticket needs an id and a subject")
    return Ticket(id=str(row["id"]).strip(), subject=str(row["subject"]), queue=str(row.get("queue") or ""),
                  status=str(row.get("status") or "new").lower(), requestor=str(row.get("requestor") or ""),
                  created=str(row.get("created") or ""), content=str(row.get("content") or ""),
                  links=parse_links(row.get("links"), where=where))


def read_tickets(path: str | Path) -> list[Ticket]:
    """Read an RT-style export: CSV with a header row, JSON (a list of objects) or JSON lines."""
    path = Path(path)
    if not path.is_file():
        raise JiraError(f"no export file at {path}", hint="give the path of a .csv, .json or .jsonl export")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise JiraError(f"cannot read {path} as UTF-8 text ({exc})",
                        hint="export the tickets as a UTF-8 .csv, .json or .jsonl file") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        missing = {"id", "subject"} - set(reader.fieldnames or ())
        if missing:
            raise JiraError(f"{path}: the CSV header lacks {', '.join(sorted(missing))}",
                            hint=f"columns are {', '.join(COLUMNS)}")
        tickets = [_ticket(row, f"{path}:{n + 2}: ") for n, row in enumerate(reader)]
    else:
        try:
            if path.suffix.lower() == ".jsonl":
                rows = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise JiraError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})",
                            hint="export a JSON list of tickets, or JSON lines") from None
        if isinstance(rows, dict) and "tickets" in rows:
            rows = rows["tickets"]
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise JiraError(f"{path} does not hold a list of ticket objects",
                            hint='export a JSON list of {"id": ..., "subject": ...} objects '
                                 '(or {"tickets": [...]}), or JSON lines of such objects')
        tickets = [_ticket(row, f"{path}: ticket #{n + 1}: ") for n, row in enumerate(rows)]
    ids = [t.id for t in tickets]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise JiraError(f"{path}: ticket ids repeat ({', '.join(dup)})", hint="each ticket id must be unique")
    return tickets


def write_tickets(tickets: Iterable[Ticket], path: str | Path) -> Path:
    """Write tickets as an RT-style CSV or JSON export (by the file's suffix)."""
    path = Path(path)
    rows = []
    for t in tickets:
        row = asdict(t)
        row["links"] = " ".join(f"{k}:{o}" for k, o in t.links)
        rows.append(row)
    if path.suffix.lower() == ".csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows(rows)
    else:
        path.write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


_QUEUES = ("General", "Network", "Storage", "Compute", "Billing", "Security")
_STATUSES = ("new", "open", "stalled", "resolved", "rejected")
_WORDS = ("disk", "space", "volume", "snapshot", "instance", "bridge", "timeout", "quota", "image", "kernel",
          "network", "dns", "latency", "login", "password", "reset", "backup", "restore", "node", "controller")
_PEOPLE = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")


def generate_tickets(n: int, *, seed: int = 0, link_ratio: float = 0.4) -> Iterator[Ticket]:
    """Yield ``n`` realistic RT-style tickets with DependsOn/RefersTo/MemberOf links, deterministic by seed."""
    rng = random.Random(seed)
    start = datetime(2012, 1, 1, tzinfo=UTC)
    for i in range(1, n + 1):
        words = rng.sample(_WORDS, 3)
        links: list[tuple[str, str]] = []
        if i > 1 and rng.random() < link_ratio:
            kind = rng.choices(("DependsOn", "RefersTo", "MemberOf"), weights=(5, 3, 1))[0]
            links.append((kind, str(rng.randint(max(1, i - 50), i - 1))))
        yield Ticket(
            id=str(i), subject=f"{words[0].capitalize()} {words[1]} {words[2]} problem #{i}",
            queue=rng.choice(_QUEUES), status=rng.choices(_STATUSES, weights=(3, 3, 1, 6, 1))[0],
            requestor=f"{rng.choice(_PEOPLE)}@example.com",
            created=(start + timedelta(hours=i * 3 + rng.randint(0, 2))).isoformat(),
            content=f"Reported via RT. The {words[0]} {words[1]} fails after the {words[2]} change.",
            links=tuple(links))

"""Bulk import of another tracker's tickets into Jira: mapped, batched, idempotent and resumable.

    tickets = rt.read_tickets("export.csv")
    plan = plan_import(tickets, Mapping(project="OPS"))
    plan.to_frame()                                        # the dry run: what would be created and linked
    result = run_import(plan, client, "import.journal")    # creates in issue/bulk batches of 50, then links

Every issue carries the label ``<prefix>-<source id>``: a rerun finds what exists and creates nothing twice.
The journal records each batch before and after it is sent, so a killed run resumes exactly where it stopped.
It belongs to one import: its first event binds it to the source's tickets, the mapping and the target
project, and a run of another import on it is refused (it would skip what the journal says exists).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labkit.jira.errors import JiraError
from labkit.tracker.rt import RT_LINK_KINDS, Ticket

BULK_LIMIT = 50  # issues per POST /issue/bulk, Jira's own limit
# A run killed mid-request leaves that request in flight: the server may still create the batch, link or
# transition after the process died, where a search does not see it yet. A resume this soon after the
# journal's last write waits out the rest of this time before it looks (a later resume does not wait).
SETTLE_SECONDS = 3.0
_EVENT_START = b'{"event":'  # how every journal line starts (json.dumps of a dict whose first key is "event")

# RT link kind -> (Jira link type, True when the *other* ticket is the inward side of the POST).
# For "Blocks", POST inwardIssue=A, outwardIssue=B makes A block B: "X DependsOn Y" means Y blocks X.
DEFAULT_LINKS: dict[str, tuple[str, bool]] = {
    "DependsOn": ("Blocks", True),
    "DependedOnBy": ("Blocks", False),
    "RefersTo": ("Relates", False),
    "ReferredToBy": ("Relates", True),
    "MemberOf": ("Relates", False),
    "HasMember": ("Relates", True),
}
# RT status -> the classic Jira workflow's status names.
DEFAULT_STATUSES = {"new": "Open", "open": "In Progress", "stalled": "Open", "resolved": "Resolved",
                    "rejected": "Closed"}


@dataclass(frozen=True)
class Mapping:
    """How source tickets become Jira issues: project, type, labels, users, statuses and link types."""

    project: str
    issuetype: str = "Task"
    label_prefix: str = "rt"
    users: dict[str, str] = field(default_factory=dict)         # requestor e-mail -> Jira user name
    statuses: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_STATUSES))
    links: dict[str, tuple[str, bool]] = field(default_factory=lambda: dict(DEFAULT_LINKS))
    queue_as_component: bool = False
    extra_labels: tuple[str, ...] = ()

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> Mapping:
        """Read a mapping spec from JSON or TOML: project, issuetype, label_prefix, users, statuses, links."""
        import tomllib

        path = Path(path)
        try:
            data = tomllib.loads(path.read_text()) if path.suffix == ".toml" else json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise JiraError(f"cannot read mapping spec {path} ({exc})", hint="give a JSON or TOML file") from None
        if not isinstance(data, dict):
            raise JiraError(f"{path}: a mapping spec is a table of keys, not {type(data).__name__}",
                            hint=f"known keys: {', '.join(cls.__dataclass_fields__)}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise JiraError(f"{path}: unknown mapping keys {sorted(unknown)}",
                            hint=f"known keys: {', '.join(cls.__dataclass_fields__)}")
        if "project" not in data:
            raise JiraError(f"{path}: the mapping names no project", hint='add project = "KEY"')
        _check_mapping(path, data)
        if "links" in data:
            data["links"] = {k: (v[0], bool(v[1])) if isinstance(v, list) else (v, False) for k, v in data["links"].items()}
        if "extra_labels" in data:
            data["extra_labels"] = tuple(data["extra_labels"])
        return cls(**data)

    def label(self, source_id: str) -> str:
        """Return the label that records a ticket's source id on its Jira issue."""
        return f"{self.label_prefix}-{source_id}"

    def digest(self) -> str:
        """Return a digest of every setting (what the journal of an import is bound to)."""
        return _digest(asdict(self))


def _digest(data: Any) -> str:
    """Return the SHA-256 of data as canonical JSON."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()


def _check_mapping(path: Path, data: dict[str, Any]) -> None:
    """Refuse a mapping spec whose values have the wrong shape, naming the key and the shape it needs."""
    def bad(key: str, shape: str) -> JiraError:
        """Return the error for a key whose value is not of ``shape``."""
        return JiraError(f"{path}: mapping key {key!r} has the wrong shape ({data[key]!r})", hint=f"write {key} as {shape}")

    for key in ("project", "issuetype", "label_prefix"):
        if key in data and not (isinstance(data[key], str) and data[key].strip()):
            raise bad(key, "a non-empty string")
    for key in ("users", "statuses"):
        if key in data and not (isinstance(data[key], dict)
                                and all(isinstance(v, str) for v in data[key].values())):
            raise bad(key, "a table of source name = Jira name")
    if "links" in data:
        links = data["links"]
        ok = isinstance(links, dict) and all(
            kind in RT_LINK_KINDS and (isinstance(v, str) or (isinstance(v, list) and len(v) == 2
                                                              and isinstance(v[0], str) and isinstance(v[1], bool)))
            for kind, v in links.items())
        if not ok:
            raise bad("links", f"a table of RT kind ({', '.join(RT_LINK_KINDS)}) = \"Jira link type\" "
                               "or [\"Jira link type\", other_side_is_inward]")
    if "queue_as_component" in data and not isinstance(data["queue_as_component"], bool):
        raise bad("queue_as_component", "true or false")
    if "extra_labels" in data and not (isinstance(data["extra_labels"], list)
                                       and all(isinstance(v, str) for v in data["extra_labels"])):
        raise bad("extra_labels", "a list of strings")


@dataclass(frozen=True)
class PlannedIssue:
    """One issue the import would create."""

    source_id: str
    summary: str
    issuetype: str
    status: str
    reporter: str
    labels: tuple[str, ...]
    fields: dict[str, Any]


@dataclass(frozen=True)
class PlannedLink:
    """One link the import would create between two imported tickets."""

    link_id: str
    type: str
    inward: str   # source id on the POST's inwardIssue side
    outward: str  # source id on the POST's outwardIssue side
    source: str   # e.g. "12 DependsOn 7"


@dataclass
class ImportPlan:
    """Everything an import would do, as data (the dry run)."""

    mapping: Mapping
    issues: list[PlannedIssue]
    links: list[PlannedLink]
    skipped_links: list[str]
    source: str = ""  # digest of the tickets as read (a re-saved export with the same tickets keeps it)

    def binding(self) -> dict[str, str]:
        """Return what a journal of this import is bound to: the source's tickets, the mapping, the project."""
        return {"source": self.source, "mapping": self.mapping.digest(), "project": self.mapping.project}

    def rows(self) -> list[dict[str, Any]]:
        """Return the planned issues as plain rows (one per issue, with its outgoing links)."""
        by_src: dict[str, list[str]] = {}
        for ln in self.links:
            by_src.setdefault(ln.source.split()[0], []).append(ln.source.split(" ", 1)[1])
        return [{"source_id": i.source_id, "summary": i.summary, "type": i.issuetype, "status": i.status,
                 "reporter": i.reporter, "labels": list(i.labels), "links": by_src.get(i.source_id, [])}
                for i in self.issues]

    def to_frame(self):  # -> pandas.DataFrame
        """Return the planned issues as a table (one row per issue, with its outgoing links)."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def summary(self) -> str:
        """Say in one line what the import would do."""
        return (f"dry run: {len(self.issues)} issues and {len(self.links)} links into {self.mapping.project}; "
                f"{len(self.skipped_links)} links skipped; add --apply to import")

    def links_frame(self):  # -> pandas.DataFrame
        """Return the planned links as a table."""
        from labkit.tables import to_frame

        return to_frame(self.links)


def plan_import(tickets: Iterable[Ticket], mapping: Mapping) -> ImportPlan:
    """Map tickets to Jira issue fields and links, without touching any server."""
    tickets = list(tickets)
    ids = {t.id for t in tickets}
    issues, links, skipped = [], [], []
    seen_links: set[str] = set()
    for t in tickets:
        labels = (mapping.label(t.id), *mapping.extra_labels)
        fields: dict[str, Any] = {
            "project": {"key": mapping.project}, "issuetype": {"name": mapping.issuetype},
            "summary": t.subject[:255], "labels": list(labels),
            "description": (t.content + f"\n\n(imported from ticket {t.id}"
                            + (f", queue {t.queue}" if t.queue else "")
                            + (f", created {t.created}" if t.created else "") + ")").strip(),
        }
        reporter = mapping.users.get(t.requestor, "")
        if reporter:
            fields["reporter"] = {"name": reporter}
        if mapping.queue_as_component and t.queue:
            fields["components"] = [{"name": t.queue}]
        status = mapping.statuses.get(t.status, "")
        issues.append(PlannedIssue(t.id, t.subject, mapping.issuetype, status, reporter, labels, fields))
        for kind, other in t.links:
            if kind not in mapping.links:
                skipped.append(f"{t.id} {kind} {other}: no mapping for {kind}")
                continue
            if other not in ids:
                skipped.append(f"{t.id} {kind} {other}: ticket {other} is not in this import")
                continue
            jira_type, other_inward = mapping.links[kind]
            inward, outward = (other, t.id) if other_inward else (t.id, other)
            link_id = f"{jira_type}:{inward}>{outward}"
            rev = f"{jira_type}:{outward}>{inward}"
            if link_id in seen_links or (jira_type == "Relates" and rev in seen_links):
                continue  # the same link seen from the other ticket
            seen_links.add(link_id)
            links.append(PlannedLink(link_id, jira_type, inward, outward, f"{t.id} {kind} {other}"))
    return ImportPlan(mapping, issues, links, skipped, _digest([asdict(t) for t in tickets]))


class Journal:
    """An append-only JSON-lines log of what an import has done (a step fsynced before it is sent).

    ``binding`` (from :meth:`ImportPlan.binding`) names the import the caller runs: a journal bound to
    another one is refused with what differs, and a new journal is bound by its first event. A line
    torn by a kill is cut off before anything is appended.
    """

    def __init__(self, path: str | Path, binding: dict[str, str] | None = None) -> None:
        """Open the journal at ``path`` (replaying it if it exists); refuse a path it could not append to."""
        self.path = Path(path)
        target = self.path if self.path.exists() else self.path.parent
        if self.path.is_dir() or not (target.is_file() if target is self.path else target.is_dir()) \
                or not os.access(target, os.W_OK):
            raise JiraError(f"cannot write the import journal {self.path}",
                            hint="pass --journal with a file path in a directory you can write")
        self.created: dict[str, str] = {}          # source id -> Jira key
        self.pending_batches: list[list[str]] = []  # sent, not confirmed
        self.links_done: set[str] = set()
        self.links_pending: set[str] = set()
        self.statuses_done: set[str] = set()
        self.binding: dict[str, str] | None = None  # the import this journal belongs to
        self._unbound: dict[str, str] | None = None  # the binding its next write records first
        self.last_batch = 0  # the highest batch number used so far
        self.finished = False  # the last event is "done": the run that wrote it left nothing in flight
        self._cut_at: int | None = None  # where the whole lines end, when a kill tore the last one
        self._end_line = False  # the last event lacks its newline
        self._lock = threading.Lock()
        if self.path.exists():
            self._replay()
        if binding is not None:
            self.bind(binding)

    def bind(self, binding: dict[str, str]) -> None:
        """Check the journal belongs to the import ``binding`` names; a new journal records it on first write."""
        if self.binding is None:
            projects = {k.rpartition("-")[0] for k in self.created.values()}
            if projects - {binding.get("project")}:  # an older, unbound journal: its keys tell the project
                raise self._mismatch([f"into project {', '.join(sorted(projects))}, not {binding.get('project')}"])
            self._unbound = dict(binding)
            return
        diffs = []
        if self.binding.get("project") != binding.get("project"):
            diffs.append(f"into project {self.binding.get('project')}, not {binding.get('project')}")
        if self.binding.get("source") != binding.get("source"):
            diffs.append("of other tickets (another export, or the export changed)")
        if self.binding.get("mapping") != binding.get("mapping"):
            diffs.append("with another mapping")
        if diffs:
            raise self._mismatch(diffs)

    def _mismatch(self, diffs: list[str]) -> JiraError:
        """Return the error for a journal that belongs to another import."""
        return JiraError(f"{self.path} is the journal of another import ({'; '.join(diffs)})",
                         hint="pass --journal with a new file for this import (issues it made already are found "
                              "by their labels), or rerun that import with its own export, mapping and project")

    def _replay(self) -> None:
        """Rebuild what earlier runs did from the journal's events."""
        open_batches: dict[int, list[str]] = {}
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        torn = lines[-1] != b""  # the file does not end with a newline: a kill cut its last line
        for n, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            last = n == len(lines)
            try:
                e = json.loads(raw.decode("utf-8"))
            except ValueError as exc:  # UnicodeDecodeError is a ValueError too
                # how each event starts (a tear may cut even that short): torn, not foreign
                if last and torn and (raw.startswith(_EVENT_START) or _EVENT_START.startswith(raw)):
                    self._cut_at = len(data) - len(raw)  # the step it describes is re-checked
                    break
                if isinstance(exc, UnicodeDecodeError):
                    raise JiraError(f"{self.path} is not an import journal (not UTF-8 text)",
                                    hint="pass --journal with the journal an earlier import wrote, or a new path") from None
                raise JiraError(f"{self.path}:{n} is corrupt", hint="move the journal aside to start over") from None
            if not isinstance(e, dict):
                raise JiraError(f"{self.path}:{n} is not a journal event",
                                hint="pass --journal with the journal an earlier import wrote, or a new path")
            try:
                self._apply(e, open_batches)
            except (KeyError, TypeError, AttributeError):
                raise JiraError(f"{self.path}:{n} is corrupt (an event without its fields)",
                                hint="move the journal aside to start over") from None
        if torn and self._cut_at is None:
            self._end_line = True  # a whole event whose newline the kill cut off: keep it, end its line
        self.pending_batches = list(open_batches.values())

    def _apply(self, e: dict[str, Any], open_batches: dict[int, list[str]]) -> None:
        """Replay one event onto what the journal knows."""
        kind = e.get("event")
        self.finished = kind == "done"
        if kind == "import":
            if self.binding is None:
                self.binding = {k: e.get(k) for k in ("source", "mapping", "project")}
        elif kind == "batch-start":
            open_batches[e["batch"]] = e["sources"]
            self.last_batch = max(self.last_batch, int(e["batch"]))
            self.links_pending.update(e.get("links", ()))  # created with the issues, if they were
        elif kind == "batch-done":
            open_batches.pop(e["batch"], None)
            self.created.update(e["created"])
            self.links_pending.difference_update(e.get("links", ()))
            self.links_done.update(e.get("links", ()))
        elif kind == "found":
            self.created.update(e["created"])
        elif kind == "link-start":
            self.links_pending.add(e["link"])
        elif kind == "link-done":
            self.links_pending.discard(e["link"])
            self.links_done.add(e["link"])
        elif kind == "status-done":
            self.statuses_done.add(e["source"])

    def write(self, event: dict[str, Any], *, durable: bool = True) -> None:
        """Append one event (the binding first, on a new journal); ``durable`` flushes it to disk before returning.

        An event that only confirms a step (``batch-done``, ``link-done``) need not be durable: lost
        in a crash, the step is re-checked on the server, and the next durable write syncs it anyway.
        """
        line = json.dumps(event, separators=(",", ":")) + "\n"
        with self._lock:
            if self._unbound is not None:
                line = json.dumps({"event": "import", **self._unbound}, separators=(",", ":")) + "\n" + line
                self.binding, self._unbound = self._unbound, None
            if self._end_line:
                line = "\n" + line
            with self.path.open("ab") as f:
                if self._cut_at is not None:
                    f.truncate(self._cut_at)  # drop the torn last line: appending onto it would corrupt both
                f.write(line.encode("utf-8"))
                f.flush()
                if durable:
                    os.fsync(f.fileno())
            self._cut_at, self._end_line = None, False


@dataclass
class ImportResult:
    """What an import run did."""

    created: int = 0
    found_existing: int = 0
    resumed: int = 0  # issues an earlier run made, known from the journal (neither created nor looked up now)
    links_created: int = 0
    links_found: int = 0
    statuses_set: int = 0
    batches: int = 0
    keys: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def to_frame(self):  # -> pandas.DataFrame
        """Return the counts as a one-row-per-measure table."""
        import pandas as pd

        return pd.DataFrame([{"measure": k, "value": v} for k, v in
                             (("issues created", self.created), ("issues already there", self.found_existing),
                              ("issues made by an earlier run (journal)", self.resumed),
                              ("links created", self.links_created), ("links already there", self.links_found),
                              ("statuses set", self.statuses_set), ("errors", len(self.errors)))])


def _bulk_create(client: Any, updates: list[dict[str, Any]]) -> list[str]:
    """POST one ``issue/bulk`` of ``{"fields": ..., "update": ...}`` items; return the new keys in order."""
    r = client.session.post(f"{client.api}/issue/bulk", json={"issueUpdates": updates})
    body = r.json()
    errors = body.get("errors") or []
    if errors:
        raise JiraError(f"issue/bulk refused {len(errors)} of {len(updates)} issues: "
                        f"{json.dumps(errors[0])[:300]}", hint="fix the mapping (project, issue type, users)")
    return [i["key"] for i in body["issues"]]


def _batches(todo: list[PlannedIssue], touching: dict[str, list[PlannedLink]]) -> Iterable[list[PlannedIssue]]:
    """Cut the issues into bulk batches, deferring an issue linked to one already in the batch.

    Then every link joins an issue to one created in an earlier batch, so it rides along in the
    later issue's create call; the order stays close to the source order.
    """
    rest = deque(todo)
    carry: list[PlannedIssue] = []
    while carry or rest:
        batch: list[PlannedIssue] = []
        ids: set[str] = set()
        deferred: list[PlannedIssue] = []
        queue = iter(carry)
        while True:
            issue = next(queue, None)
            if issue is None:
                if not rest or len(batch) >= BULK_LIMIT:
                    break
                issue = rest.popleft()
            partners = {x for ln in touching.get(issue.source_id, ()) for x in (ln.inward, ln.outward)}
            if len(batch) >= BULK_LIMIT or partners & ids:
                deferred.append(issue)
            else:
                batch.append(issue)
                ids.add(issue.source_id)
        carry = deferred
        yield batch


def _with_links(batch: list[PlannedIssue], touching: dict[str, list[PlannedLink]],
                j: Journal) -> tuple[list[dict[str, Any]], list[str]]:
    """Build a batch's create payloads, embedding each link whose other side already exists (no extra call)."""
    updates, embedded = [], []
    for issue in batch:
        ops = []
        for ln in touching.get(issue.source_id, ()):
            if ln.link_id in j.links_done or ln.link_id in j.links_pending or ln.link_id in embedded:
                continue
            mine_inward = ln.inward == issue.source_id
            other = ln.outward if mine_inward else ln.inward
            if other in j.created:
                # seen from the new issue: it is the POST's inward side, so the other is its outwardIssue
                side = "outwardIssue" if mine_inward else "inwardIssue"
                ops.append({"add": {"type": {"name": ln.type}, side: {"key": j.created[other]}}})
                embedded.append(ln.link_id)
        updates.append({"fields": issue.fields, **({"update": {"issuelinks": ops}} if ops else {})})
    return updates, embedded


def _existing(client: Any, mapping: Mapping, sources: list[str], workers: int = 4) -> dict[str, str]:
    """Find issues already carrying the source labels of these tickets (one search per 50, ``workers`` at a time).

    A project holding no issue at all is answered by one count.
    """
    from labkit.jira.jql.build import field

    found: dict[str, str] = {}
    if not sources or (hasattr(client, "count") and client.count(str(field("project") == mapping.project)) == 0):
        return found  # an empty project (a first import) holds none of them: one call, not one per 50
    prefix = mapping.label_prefix + "-"

    def search(chunk: list[str]) -> list[tuple[str, str]]:
        """(source id, key) of the issues labelled with one chunk's source labels."""
        # built and quoted by the JQL builder: a project or label with a quote in it stays one value
        jql = str((field("project") == mapping.project) & field("labels").in_([mapping.label(s) for s in chunk]))
        wanted = set(chunk)
        return [(label[len(prefix):], issue["key"])
                for issue in client.search_issues(jql, ["labels"], progress=False)
                for label in issue["fields"].get("labels") or []
                if label.startswith(prefix) and label[len(prefix):] in wanted]

    chunks = [sources[i:i + BULK_LIMIT] for i in range(0, len(sources), BULK_LIMIT)]
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(chunks) or 1))) as pool:
        for pairs in pool.map(search, chunks):
            found.update(pairs)
    return found


def _has_link(client: Any, link: PlannedLink, keys: dict[str, str]) -> bool:
    """Tell whether the planned link already exists on the server (checked on its inward issue)."""
    inward, outward = keys[link.inward], keys[link.outward]
    issue = client.issue(inward, ["issuelinks"])
    for ln in issue["fields"].get("issuelinks") or []:
        other = (ln.get("outwardIssue") or {}).get("key")
        if ln["type"]["name"] == link.type and other == outward:
            return True
    return False


def _settle(j: Journal) -> None:
    """Wait until ``SETTLE_SECONDS`` after the last write of a journal a killed run left, so its requests land.

    A step sent just before a kill (a batch, a link, a transition) is still being done by the server
    when a quick rerun looks for it: unseen, it would be done twice. A finished or new journal, or one
    last written longer ago, is read at once.
    """
    import time

    if j.finished or not j.path.exists():
        return
    left = j.path.stat().st_mtime + SETTLE_SECONDS - time.time()
    if left > 0:
        time.sleep(min(left, SETTLE_SECONDS))


def run_import(plan: ImportPlan, client: Any, journal: str | Path, *, workers: int = 4, set_status: bool = True,
               progress: bool | None = None, on_batch: Callable[[int], None] | None = None) -> ImportResult:
    """Create the plan's issues in bulk batches, then its links and statuses; resumable from the journal."""
    j = Journal(journal, plan.binding())
    _settle(j)
    result = ImportResult()
    mapping = plan.mapping
    result.resumed = sum(i.source_id in j.created for i in plan.issues)
    # 1. anything sent but not confirmed before a crash: look it up instead of creating it again
    unconfirmed = [s for batch in j.pending_batches for s in batch if s not in j.created]
    if unconfirmed:
        found = _existing(client, mapping, unconfirmed)
        if found:
            j.write({"event": "found", "created": found})
            j.created.update(found)
            result.found_existing += len(found)
    todo = [i for i in plan.issues if i.source_id not in j.created]
    if not j.path.exists() or not j.created:
        # a first run into a project that may already hold these tickets (a rerun without the journal)
        found = _existing(client, mapping, [i.source_id for i in todo], workers)
        if found:
            j.write({"event": "found", "created": found})
            j.created.update(found)
            result.found_existing += len(found)
            todo = [i for i in todo if i.source_id not in found]
    bar = _progress(len(plan.issues), progress, initial=len(plan.issues) - len(todo))
    batch_no = j.last_batch
    touching: dict[str, list[PlannedLink]] = {}
    for ln in plan.links:
        touching.setdefault(ln.inward, []).append(ln)
        touching.setdefault(ln.outward, []).append(ln)
    for batch in _batches(todo, touching):
        batch_no += 1
        sources = [i.source_id for i in batch]
        updates, embedded = _with_links(batch, touching, j)
        j.write({"event": "batch-start", "batch": batch_no, "sources": sources, "links": embedded})
        keys = _bulk_create(client, updates)
        created = dict(zip(sources, keys, strict=True))
        j.write({"event": "batch-done", "batch": batch_no, "created": created, "links": embedded}, durable=False)
        j.created.update(created)
        j.links_done.update(embedded)
        result.links_created += len(embedded)
        result.batches += 1
        result.created += len(created)
        if bar is not None:
            bar.update(len(batch))
        if on_batch:
            on_batch(batch_no)
    if bar is not None:
        bar.close()
    result.keys = dict(j.created)
    # 2. links, in parallel; a link sent but not confirmed is checked on the server first
    def make_link(link: PlannedLink) -> str:
        """Create one planned link, journalled, unless a crashed run already made it."""
        if link.link_id in j.links_pending and _has_link(client, link, j.created):
            j.write({"event": "link-done", "link": link.link_id})
            return "found"
        j.write({"event": "link-start", "link": link.link_id})
        client.add_link(link.type, j.created[link.inward], j.created[link.outward])
        j.write({"event": "link-done", "link": link.link_id}, durable=False)
        return "created"

    pending_links = [ln for ln in plan.links if ln.link_id not in j.links_done]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for outcome in pool.map(make_link, pending_links):
            if outcome == "created":
                result.links_created += 1
            else:
                result.links_found += 1
    # 3. statuses through workflow transitions
    if set_status:
        def move(issue: PlannedIssue) -> bool:
            """Move one imported issue to its mapped status and journal it."""
            moved = transition_to(client, j.created[issue.source_id], issue.status)
            j.write({"event": "status-done", "source": issue.source_id})
            return moved

        todo_status = [i for i in plan.issues if i.status and i.source_id not in j.statuses_done]
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            result.statuses_set = sum(pool.map(move, todo_status))
    j.write({"event": "done", "issues": len(j.created)})
    return result


def transition_to(client: Any, key: str, status: str) -> bool:
    """Move an issue to a status with the workflow transition that leads there; False if it is there already."""
    r = client.session.get(f"{client.api}/issue/{key}/transitions")
    transitions = r.json().get("transitions", [])
    for t in transitions:
        if (t.get("to") or {}).get("name", "").lower() == status.lower():
            client.session.post(f"{client.api}/issue/{key}/transitions", json={"transition": {"id": t["id"]}})
            return True
    current = client.issue(key, ["status"])["fields"]["status"]["name"]
    if current.lower() == status.lower():
        return False
    raise JiraError(f"{key} cannot move from {current} to {status}: no such transition",
                    hint="fix the statuses in the mapping to names this project's workflow reaches")


def _progress(total: int, progress: bool | None, initial: int = 0):
    """Return a tqdm progress bar for long imports, or None when it is off or the import is short."""
    if progress is False or (progress is None and total < 200):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="issue", desc="import")

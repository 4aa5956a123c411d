"""Mirror a Jira into a local store: incremental (``updated >=`` the last sync) and resumable page by page.

    from labkit.jira.client import JiraClient
    from labkit.jira.store.mirror import mirror
    mirror(JiraClient.from_profile(), "tracker.db", "project = OPS")

The sync state lives beside the database (``tracker.db.sync.json``, mode 0600), written atomically after
every page. It names the server by its URL without credentials: a password never goes into it.
Issues come with their whole changelog: what Jira cut from a page is paged in before the page is
stored, and an issue pulled again keeps its stored entries (only what is new is fetched).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.jira.errors import JiraError, JqlSyntaxError
from labkit.jira.jql.parser import parse

MIRROR_PAGE = 100


@dataclass(frozen=True)
class MirrorResult:
    """What one ``mirror`` run did."""

    db: str
    jql: str
    since: str | None      # the ``updated >=`` bound used (None: full pull)
    pulled: int            # issues written to the store in this run
    resumed: bool          # continued an interrupted run
    total_in_store: int
    synced_at: str         # the bound the next run will use


def state_path(db: str | os.PathLike[str]) -> Path:
    """Return the sync-state file kept beside a mirror's database."""
    return Path(str(db) + ".sync.json")


def _read_state(path: Path) -> dict[str, Any]:
    """Read a mirror's sync state (empty when there is none)."""
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = None
    if not isinstance(state, dict):
        raise JiraError(f"{path} is not a mirror's sync state", hint="delete it to mirror everything again")
    return state


def _write_state(path: Path, state: dict[str, Any]) -> None:
    """Write a mirror's sync state atomically, readable by its owner only, refusing a URL with credentials."""
    from labkit.http import split_credentials

    if state.get("url") and split_credentials(state["url"])[1] is not None:
        raise JiraError("the mirror's sync state would hold a password written in the Jira URL",
                        hint="give the password in the environment or keyring (labkit config), not in the URL")
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)  # a temp file left by an older run may have other bits
        f.write(json.dumps(state, indent=2))
    os.replace(tmp, path)  # atomic: an interrupted run never leaves half a state file


def jql_time(epoch: float) -> str:
    """Format a time the way JQL date comparisons take it (``yyyy/MM/dd HH:mm``, UTC)."""
    return time.strftime("%Y/%m/%d %H:%M", time.gmtime(epoch))


def mirror_query(jql: str, since: str | None) -> str:
    """Return the JQL a mirror run pages through: the user's JQL, bounded by ``updated >= since``, in key order."""
    from labkit.jira.jql import Clause, Empty, Query, SortKey, Value, render
    from labkit.jira.jql.edit import and_where

    q = and_where(parse(jql), *([Clause("updated", ">=", Value(since))] if since else []))
    if q.where is None:  # a bounded "everything" (Cloud refuses unbounded JQL)
        q = Query(Clause("created", "IS NOT", Empty()))
    return render(Query(q.where, (SortKey("key", "ASC"),)))


def mirror(client: Any, db: str | os.PathLike[str], jql: str = "", *, page_size: int = MIRROR_PAGE,
           max_pages: int | None = None) -> MirrorResult:
    """Pull a Jira's issues into a local Store, incrementally and resumably.

    The first run pulls everything the JQL finds; later runs only ``updated >=`` the start of
    the last complete run (minus a minute: JQL dates have minute precision). Progress is saved
    after every page, so an interrupted run continues where it stopped. ``max_pages`` stops
    early (as an interruption would), for tests and trial runs.
    """
    from labkit.jira.store import Store

    if page_size < 1:
        raise JiraError(f"the page size {page_size} is less than 1", hint="give --page-size 1 or more")
    if _has_order_by(jql):
        raise JiraError(f"the mirror's JQL {jql!r} has an ORDER BY", hint="leave ORDER BY out: the mirror pages in key order")
    from labkit.http import mask_url, split_credentials

    url = split_credentials(client.url)[0]  # what the state file names: the server, never a password
    sp = state_path(db)
    state = _read_state(sp)
    saved = state.get("url")
    if (saved is not None and split_credentials(str(saved))[0] != url) or state.get("jql", jql) != jql:
        raise JiraError(f"{db} mirrors {mask_url(str(saved))} with JQL {state.get('jql')!r}, not {mask_url(url)} "
                        f"{jql!r}", hint="use another --db for a different server or query")
    run = state.get("run")
    resumed = bool(run)
    if not run:
        run = {"since": state.get("synced_at"), "started": time.time() - 60, "cursor": None, "pulled": 0}
    query = mirror_query(jql, run["since"])
    new_db = not Path(db).exists()
    store = Store(str(db))
    pages = 0
    try:
        for issues, cursor in client.iter_pages(query, ["*all"], cursor=run["cursor"], page_size=page_size,
                                                expand="changelog"):
            if issues:
                client.complete_changelogs(issues, known=_stored_histories(store, issues), progress=False)
                store.import_issues(issues)
            run["pulled"] += len(issues)
            run["cursor"] = cursor
            state.update({"url": url, "jql": jql, "run": run})
            _write_state(sp, state)
            pages += 1
            if cursor is not None and max_pages is not None and pages >= max_pages:
                return MirrorResult(str(db), query, run["since"], run["pulled"], resumed, _total(store),
                                    state.get("synced_at") or "")
        synced_at = jql_time(run["started"])
        state.update({"url": url, "jql": jql, "synced_at": synced_at, "run": None})
        _write_state(sp, state)
        return MirrorResult(str(db), query, run["since"], run["pulled"], resumed, _total(store), synced_at)
    except BaseException:
        if new_db and pages == 0:  # nothing pulled into a file this run made: leave no empty store behind
            store.close()
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
        raise
    finally:
        store.close()


def _has_order_by(jql: str) -> bool:
    """Tell whether a JQL has an ORDER BY; malformed JQL is a one-line JiraError before anything is written."""
    try:
        return bool(parse(jql).order_by)
    except JqlSyntaxError as exc:
        raise JiraError(f"the mirror's JQL {jql!r} is not valid: {exc.reason} at position {exc.position}",
                        hint=exc.hint or "fix the query (labkit.jira.jql.lint explains common traps)") from None


def _stored_histories(store: Any, issues: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The whole changelogs the store holds for the issues of a page whose embedded changelog is cut short."""
    from labkit.jira.model import changelog_truncated

    out = {}
    for issue in issues:
        if changelog_truncated(issue.get("changelog")):
            old = store.get_issue(issue["key"])
            log = (old or {}).get("changelog")
            if isinstance(log, dict) and not changelog_truncated(log):
                out[issue["key"]] = list(log.get("histories") or [])
    return out


def _total(store: Any) -> int:
    """Return how many issues a store holds (-1 if it cannot tell)."""
    try:
        return int(store.count(""))
    except Exception:  # noqa: BLE001 - a count is informative only
        return -1

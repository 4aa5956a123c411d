"""The release check's tracker comment: one table as Jira wiki markup (REST v2) or ADF (REST v3), posted and transitioned.

Server and Data Center take comment bodies in wiki markup on REST v2 (``||heading||`` rows, ``|cell|``
rows, a backslash escapes a markup character); Cloud takes Atlassian Document Format on REST v3
(``table`` > ``tableRow`` > ``tableHeader``/``tableCell`` > ``paragraph``). Cells go through
:func:`labkit.tables.cell_text`, so the comment shows exactly the text the notebook's table shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from labkit.cloud.errors import CloudError

DEPLOYMENTS = ("auto", "server", "cloud")
# Characters that start wiki markup (tables, links, macros, images, emphasis): escaped with a backslash.
_WIKI_SPECIAL = re.compile(r"([\\|\[\]{}!*_^~])")


def table_cells(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """Return (columns, rows of display text) by the table convention, each cell on one line."""
    from labkit.tables import clean

    frame = clean(list(rows), columns)
    cols = list(frame.columns)
    body = [[" ".join(str(v).split()) for v in r] for r in frame.itertuples(index=False, name=None)]
    return cols, body


def wiki_escape(text: str) -> str:
    """Escape the characters that would start wiki markup, so a cell shows as written."""
    return _WIKI_SPECIAL.sub(r"\\\1", text)


def wiki_comment(rows: Sequence[dict[str, Any]], title: str = "", columns: Sequence[str] | None = None) -> str:
    """Return the rows as a Jira wiki markup table (REST v2), under an optional bold title line."""
    cols, body = table_cells(rows, columns)
    lines = [f"*{wiki_escape(title)}*"] if title else []
    lines.append("||" + "||".join(wiki_escape(c) for c in cols) + "||")
    lines += ["|" + "|".join(wiki_escape(v) if v else " " for v in r) + "|" for r in body]
    return "\n".join(lines)


def _paragraph(text: str, strong: bool = False) -> dict[str, Any]:
    """Return an ADF paragraph holding one text node (empty text: an empty paragraph)."""
    if not text:
        return {"type": "paragraph", "content": []}
    node: dict[str, Any] = {"type": "text", "text": text}
    if strong:
        node["marks"] = [{"type": "strong"}]
    return {"type": "paragraph", "content": [node]}


def adf_comment(rows: Sequence[dict[str, Any]], title: str = "", columns: Sequence[str] | None = None) -> dict[str, Any]:
    """Return the rows as an Atlassian Document Format document with one table (REST v3)."""
    cols, body = table_cells(rows, columns)
    header = {"type": "tableRow", "content": [{"type": "tableHeader", "attrs": {}, "content": [_paragraph(c, True)]}
                                              for c in cols]}
    table_rows = [{"type": "tableRow", "content": [{"type": "tableCell", "attrs": {}, "content": [_paragraph(v)]}
                                                   for v in r]} for r in body]
    content: list[dict[str, Any]] = [_paragraph(title, True)] if title else []
    content.append({"type": "table", "attrs": {"isNumberColumnEnabled": False, "layout": "default"},
                    "content": [header, *table_rows]})
    return {"type": "doc", "version": 1, "content": content}


def deployment_of(client, deployment: str = "auto") -> str:
    """Return ``server`` or ``cloud``: as given, or (auto) what the Jira says it is."""
    if deployment not in DEPLOYMENTS:
        raise CloudError(f"deployment {deployment!r} is unknown", hint="use auto, server (REST v2, wiki markup) or "
                                                                        "cloud (REST v3, ADF)")
    if deployment != "auto":
        return deployment
    return "cloud" if client.is_cloud else "server"


def comment_request(rows: Sequence[dict[str, Any]], *, title: str = "", deployment: str = "server",
                    columns: Sequence[str] | None = None) -> tuple[str, dict[str, Any]]:
    """Return (API prefix, JSON body) of the comment for a deployment (server: v2 wiki, cloud: v3 ADF)."""
    if deployment == "cloud":
        return "/rest/api/3", {"body": adf_comment(rows, title, columns)}
    return "/rest/api/2", {"body": wiki_comment(rows, title, columns)}


def post_comment(client, key: str, rows: Sequence[dict[str, Any]], *, title: str = "", deployment: str = "auto",
                 columns: Sequence[str] | None = None) -> dict[str, Any]:
    """Post the rows as a comment on issue ``key``; return the created comment's JSON."""
    api, body = comment_request(rows, title=title, deployment=deployment_of(client, deployment), columns=columns)
    return client.session.post(f"{api}/issue/{key}/comment", json=body).json()


def transition_issue(client, key: str, to: str, *, dry_run: bool = True) -> dict[str, Any]:
    """Move issue ``key`` through the transition named ``to`` (or to the status of that name); dry run by default."""
    found = client.session.get(f"/rest/api/2/issue/{key}/transitions").json().get("transitions", [])
    wanted = to.strip().lower()
    chosen = next((t for t in found if str(t.get("name", "")).lower() == wanted or
                   str((t.get("to") or {}).get("name", "")).lower() == wanted), None)
    if chosen is None:
        names = ", ".join(sorted({str(t.get("name")) for t in found})) or "none"
        raise CloudError(f"issue {key} has no transition {to!r}", hint=f"choose one of: {names}")
    if not dry_run:
        client.session.post(f"/rest/api/2/issue/{key}/transitions", json={"transition": {"id": chosen["id"]}})
    return {"issue": key, "transition": chosen.get("name"), "to": (chosen.get("to") or {}).get("name"),
            "done": not dry_run}

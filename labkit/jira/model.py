"""The single source of Jira's rules that labkit applies in more than one place.

Every module that needs one of these asks here, so the client, the fast path, the store, the
sandbox and rank analysis can never disagree:

- the Rank field (:data:`RANK_FIELD`, its custom-field type and JQL names);
- status categories (:data:`STATUS_CATEGORIES`);
- the columns of a search result (:data:`SEARCH_COLUMNS`);
- a field's searchable text, Atlassian Document Format flattened (:func:`adf_text`, :func:`field_texts`);
- which issue links mean "blocks", and which way round (:class:`BlockingRule`).
"""

from __future__ import annotations

from typing import Any

RANK_FIELD = "customfield_10019"
RANK_FIELD_NUMBER = int(RANK_FIELD.rsplit("_", 1)[1])
LEXO_RANK = "com.pyxis.greenhopper.jira:gh-lexo-rank"
RANK_NAMES = frozenset({"rank", RANK_FIELD, f"cf[{RANK_FIELD_NUMBER}]"})

# key -> (id, name, colorName), as Jira's statusCategory objects carry them
STATUS_CATEGORIES: dict[str, tuple[int, str, str]] = {
    "undefined": (1, "No Category", "medium-gray"),
    "new": (2, "To Do", "blue-gray"),
    "done": (3, "Done", "green"),
    "indeterminate": (4, "In Progress", "yellow"),
}

SEARCH_COLUMNS = ["key", "summary", "status", "status_category", "issuetype", "priority", "assignee",
                  "reporter", "created", "updated", "resolved", "labels", "components", "rank",
                  "blocked_by", "blocks"]

TEXT_FIELDS = ("summary", "description", "environment", "comment")


def status_category(key: str) -> dict[str, Any]:
    """Return the REST ``statusCategory`` object of a category key (``new``, ``indeterminate``, ``done``)."""
    cid, name, color = STATUS_CATEGORIES.get(key, STATUS_CATEGORIES["undefined"])
    return {"id": cid, "key": key if key in STATUS_CATEGORIES else "undefined", "colorName": color, "name": name}


def adf_text(value: Any) -> Any:
    """Flatten an Atlassian Document Format document to plain text (any other value passes through).

    Blocks (paragraphs, headings, list items...) are separated by a blank line; the text nodes of a
    block are joined as they are.
    """
    if not isinstance(value, dict) or value.get("type") != "doc":
        return value

    def walk(node: Any) -> str:
        """Collect the text of an ADF node and its children."""
        if not isinstance(node, dict):
            return ""
        if node.get("type") == "text":
            return str(node.get("text", ""))
        return "".join(walk(c) for c in node.get("content", []) or [])

    return "\n\n".join(walk(block) for block in value.get("content", []) or [])


def text_of(value: Any) -> str:
    """Return a text field's plain text: ADF flattened, None as ``""``."""
    flat = adf_text(value)
    return flat if isinstance(flat, str) else ("" if flat is None else str(flat))


def field_texts(fields: dict) -> tuple[str, str, str, str]:
    """Return the four searchable texts of an issue: summary, description, environment, comments joined.

    REST v3 (Cloud) sends rich text as Atlassian Document Format; it is flattened to its words.
    """
    cm = (fields.get("comment") or {}).get("comments") or []
    return (text_of(fields.get("summary")), text_of(fields.get("description")),
            text_of(fields.get("environment")), "\n".join(text_of(c.get("body")) for c in cm))

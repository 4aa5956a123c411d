"""Shape Jira issue JSON for the sandbox: field selection, v3 rich text, static metadata."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import msgspec
from msgspec import Raw
from msgspec.json import Encoder

from labkit.jira.model import ADF_BODY, RANK_FIELD, adf_text
from labkit.jira.store.decode import loads
from labkit.jira.store.store import in_place, rest_comment, rest_parts

__all__ = ["ISSUE_EXPAND", "ISSUE_TYPES", "PRIORITIES", "RANK_FIELD", "REWRITTEN", "FieldRule", "adf", "adf_text",
           "field_rule", "field_selector", "field_spec", "rfc3339", "select_fields", "to_v3", "v3_comment",
           "wire_fields"]

ISSUE_EXPAND = "operations,versionedRepresentations,editmeta,changelog,renderedFields"
# Not "navigable" in Jira's sense: left out of a search's default field set.
NOT_NAVIGABLE = frozenset({"comment", "attachment", "worklog", "timetracking"})
RICH_TEXT = ("description", "environment")
# The fields whose values to_v2 (REST v2 and latest) and to_v3 may rewrite: a renderer hands them over decoded,
# the others it may pass on as their stored JSON.
REWRITTEN = {"2": frozenset({"comment"}), "3": frozenset({*RICH_TEXT, "comment"})}
_SPLICE = Encoder()

# The sandbox's configured issue types and priorities: what GET /issuetype and /priority list, what
# JQL may name, and what the demo data uses (Jira's own default ids).
ISSUE_TYPES = [
    {"id": "1", "name": "Bug", "subtask": False, "description": "A problem which impairs or prevents the functions of the product."},
    {"id": "3", "name": "Task", "subtask": False, "description": "A task that needs to be done."},
    {"id": "10001", "name": "Story", "subtask": False, "description": "A user story."},
    {"id": "4", "name": "Improvement", "subtask": False, "description": "An improvement or enhancement to an existing feature."},
    {"id": "10000", "name": "Epic", "subtask": False, "description": "A big user story that needs to be broken down."},
    {"id": "2", "name": "New Feature", "subtask": False, "description": "A new feature of the product."},
    {"id": "5", "name": "Sub-task", "subtask": True, "description": "The sub-task of the issue."},
]
PRIORITIES = [{"id": str(i), "name": n} for i, n in enumerate(["Highest", "High", "Medium", "Low", "Lowest"], start=1)]


def field_spec(values: Iterable[str] | None) -> list[str] | None:
    """Flatten ``fields`` parameters (repeated and/or comma-separated) into one list, or None."""
    if values is None:
        return None
    out: list[str] = []
    for v in values:
        if v is None:
            continue
        out.extend(p.strip() for p in str(v).split(",") if p.strip())
    return out


def select_fields(fields: dict[str, Any], spec: list[str] | None, default: str) -> dict[str, Any]:
    """Return the subset of ``fields`` a Jira ``fields`` parameter asks for (``*all``, ``*navigable``, ``-x``)."""
    return field_selector(tuple(spec) if spec else None, default)(fields)


class FieldRule(NamedTuple):
    """Which fields a ``fields`` parameter asks for: only ``keep`` when it is a set, else all but ``drop``."""

    keep: frozenset[str] | None
    drop: frozenset[str]

    def keeps(self, name: str) -> bool:
        """Tell whether the field ``name`` is asked for."""
        return name in self.keep if self.keep is not None else name not in self.drop

    @property
    def nothing(self) -> bool:
        """True when no field at all is asked for (``fields=id`` or ``key``): an answer needs no stored field."""
        return self.keep is not None and not self.keep

    def select(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Return the fields asked for, in their order."""
        if self.keep is not None:
            keep = self.keep
            return {k: v for k, v in fields.items() if k in keep}
        drop = self.drop
        return {k: v for k, v in fields.items() if k not in drop}


@functools.lru_cache(maxsize=256)
def field_rule(spec: tuple[str, ...] | None, default: str) -> FieldRule:
    """Work out which fields a ``fields`` parameter asks for (``default`` when it is None or empty).

    Items are read in order: ``*all`` or ``*navigable`` (the last one given) is the base, a name adds
    a field, ``-name`` removes one (``id`` and ``key`` are not fields). Worked out once per parameter,
    so a page of a thousand issues pays one set look-up per field.
    """
    base: str | None = None
    include: set[str] = set()
    exclude: set[str] = set()
    for item in spec or (default,):
        if item in ("*all", "*navigable"):
            base = item
        elif item.startswith("-"):
            exclude.add(item[1:])
        elif item not in ("id", "key"):
            include.add(item)
    if base is None:
        return FieldRule(frozenset(include - exclude), frozenset())
    return FieldRule(None, frozenset(exclude | (NOT_NAVIGABLE - include if base == "*navigable" else set())))


def field_selector(spec: tuple[str, ...] | None, default: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Return a function that keeps, in their order, the fields a ``fields`` parameter asks for (:func:`field_rule`)."""
    return field_rule(spec, default).select


def adf(text: str | None) -> dict[str, Any] | None:
    """Wrap plain text as an Atlassian Document Format document (REST v3 rich-text fields)."""
    if text is None:
        return None
    paragraphs = [p for p in str(text).split("\n\n")]
    return {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": ([{"type": "text", "text": p}] if p else [])} for p in paragraphs]}


def to_v3(fields: dict[str, Any]) -> dict[str, Any]:
    """Convert the rich-text fields of an issue to ADF, as REST v3 returns them (the same dict when none is there)."""
    rich = [name for name in RICH_TEXT if isinstance(fields.get(name), str)]
    comment = fields.get("comment")
    comments = isinstance(comment, dict) and comment.get("comments")
    if not rich and not comments:
        return fields
    out = dict(fields)
    for name in rich:
        out[name] = adf(out[name])
    if comments:
        out["comment"] = {**comment, "comments": [v3_comment(c) for c in comment["comments"]]}
    return out


def to_v2(fields: dict[str, Any]) -> dict[str, Any]:
    """Drop the ADF bodies kept for REST v3 from an issue's comments (v2 answers the text)."""
    comment = fields.get("comment")
    if not isinstance(comment, dict) or not any(ADF_BODY in c for c in comment.get("comments") or []):
        return fields
    return {**fields, "comment": {**comment, "comments": [v2_comment(c) for c in comment["comments"]]}}


def v2_comment(c: dict[str, Any]) -> dict[str, Any]:
    """Render a comment for REST v2: the text, without the ADF body kept for v3."""
    return {k: v for k, v in c.items() if k != ADF_BODY}


def rfc3339(value: Any) -> Any:
    """Turn Jira's ``...+0000`` timestamps into RFC 3339 (``...+00:00``), as the v3 spec declares them."""
    if isinstance(value, str) and len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit():
        return f"{value[:-2]}:{value[-2:]}"
    return value


def v3_comment(c: dict[str, Any]) -> dict[str, Any]:
    """Render a comment for REST v3: ADF body, RFC 3339 dates."""
    out = dict(c)
    posted = out.pop(ADF_BODY, None)
    if isinstance(posted, dict):
        out["body"] = posted
    elif isinstance(out.get("body"), str):
        out["body"] = adf(out["body"])
    for k in ("created", "updated"):
        if k in out:
            out[k] = rfc3339(out[k])
    return out


def wire_fields(issues: list[Any], rule: FieldRule, version: str) -> list[Any]:
    """Return the fields a rule selects of stored issues (``Store.stored_issues``), ready to encode for the wire.

    Each issue's fields are set as a read of the whole issue sets them (rank, comment, links:
    :func:`labkit.jira.store.store.rest_parts`) and selected. A value stays its stored JSON (``msgspec.Raw``, encoded as it is) when the document is
    canonical and the version does not rewrite the field; the others of the whole page are decoded
    in one call. Issues of a page mostly share one field order: what a rule keeps of an order is
    worked out once (:class:`_Selection`). A canonical issue whose selection holds no field the
    version rewrites gets it as a struct of its order (:func:`_fields_struct`, made in C, encoded
    as the dict of the same names in the same order would be, and needing no conversion); the
    others get a dict, which ``to_v2``/``to_v3`` may rewrite.
    """
    rewritten = REWRITTEN["3" if version == "3" else "2"]
    comment, links = rule.keeps("comment"), rule.keeps("issuelinks")
    keeps = rule.keeps
    shapes: dict[tuple[str, ...], _Selection] = {}
    out: list[Any] = []
    todo: list[tuple[dict[str, Any], str, Raw]] = []
    for issue in issues:
        f = issue.fields
        rest_parts(f, issue.rank, issue.links if links else None, in_place if comment else None)  # comment: below
        order = tuple(f)
        shape = shapes.get(order)
        if shape is None:
            shape = shapes[order] = _Selection(tuple(filter(keeps, order)), rewritten)
        if issue.canonical and shape.plain:
            made = shape.type
            out.append(made(*shape.get(f)) if made is not None else shape.struct(f))
            continue
        selected = dict(zip(shape.names, shape.get(f), strict=True))
        for name in (rewritten if issue.canonical else shape.names):
            value = selected.get(name)
            if type(value) is Raw:
                todo.append((selected, name, value))
        out.append(selected)
    if todo:  # the page's raw values spliced into one JSON text, decoded at once
        for (selected, name, _), value in zip(todo, loads(_SPLICE.encode([t[2] for t in todo])), strict=True):
            selected[name] = value
    if comment:
        for selected in out:
            if "comment" in selected:
                selected["comment"] = rest_comment(selected["comment"])
    return out


class _Selection:
    """What a field rule keeps of one field order: the names, a getter of their values, the struct that holds them."""

    __slots__ = ("names", "get", "plain", "type", "_seen")

    def __init__(self, names: tuple[str, ...], rewritten: frozenset[str]) -> None:
        """Work out the selection of ``names`` (in order); ``plain``: none of them is rewritten by the version."""
        self.names = names
        self.get: Callable[[dict[str, Any]], tuple[Any, ...]] = (
            operator.itemgetter(*names) if len(names) > 1 else (lambda f: (f[names[0]],)) if names else (lambda f: ()))
        self.plain = not rewritten.intersection(names)
        self.type: type | None = _STRUCTS.get(names)  # made on the second issue of this order (struct)
        self._seen = 0

    def struct(self, fields: dict[str, Any]) -> Any:
        """The selected values of ``fields`` as a struct of this order (a dict the first time an order is met)."""
        if self.type is None:
            self._seen += 1
            if self._seen < 2:  # an order met once (a page of odd documents) is not worth a type
                return dict(zip(self.names, self.get(fields), strict=True))
            self.type = _fields_struct(self.names)
        return self.type(*self.get(fields))


_STRUCTS: dict[tuple[str, ...], type] = {}
_STRUCTS_MAX = 1024


def _fields_struct(names: tuple[str, ...]) -> type:
    """A struct type whose instances encode as ``{name: value, ...}`` in this order (kept for the next pages)."""
    made = _STRUCTS.get(names)
    if made is None:
        if len(_STRUCTS) >= _STRUCTS_MAX:
            _STRUCTS.clear()
        made = _STRUCTS[names] = msgspec.defstruct(
            "WireFields", [(f"f{i}", Any, msgspec.field(name=n)) for i, n in enumerate(names)], gc=False)
    return made

"""Builders shared by the JQL and store tests (this module has no tests of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from labkit.jira.errors import JqlSyntaxError
from labkit.jira.jql import parse, quote, render
from tests.conftest import shared_data_dir

APPC = shared_data_dir() / "jira" / "appcelerator-jira-archive"
JQL_DATA = shared_data_dir() / "jql"


@contextmanager
def real_sandbox(project: str, mode: str) -> Iterator[Any]:
    """A Jira sandbox serving one project of the real Appcelerator archive (skips when the archive lacks it)."""
    from labkit.jira.sandbox import serve

    dump = APPC / f"{project}.jsonl.gz"
    if not dump.is_file():
        pytest.skip(f"{dump} not found (the Appcelerator archive in ../shared/data)")
    with serve(mode=mode, data=str(dump), seed_issues=0) as real:
        yield real


def issue(key: str, summary: str = "", description: str | None = None, *, comments: tuple[str, ...] = (),
          environment: str | None = None, status: str = "Open", category: str = "new", **extra) -> dict:
    """A minimal REST-shaped issue."""
    project, _, num = key.partition("-")
    fields = {
        "project": {"id": "1", "key": project, "name": project.title()},
        "summary": summary, "description": description, "environment": environment,
        "issuetype": {"id": "1", "name": "Bug"},
        "status": {"id": "1" if status == "Open" else "6", "name": status,
                   "statusCategory": {"id": 2 if category == "new" else 3, "key": category,
                                      "name": "To Do" if category == "new" else "Done"}},
        "priority": {"id": "3", "name": "Medium"},
        "created": "2021-03-0%sT10:00:00.000+0000" % (int(num) % 9 + 1),
        "updated": "2021-04-01T10:00:00.000+0000",
        "labels": [], "components": [],
        "comment": {"comments": [{"id": f"{num}{k}", "body": b, "author": {"name": "bob"}} for k, b in enumerate(comments)]},
    }
    fields.update(extra)
    return {"id": str(1000 * (ord(project[0]) - 64) + int(num)), "key": key, "fields": fields}


def as_jql(query: str, kind: str) -> str:
    """An example of the Atlassian TSV as JQL: lucene/basic-search examples become the value of ``text ~``.

    A lucene example that is itself one JQL string literal (``"Jira+Software"``) is that value;
    any other is quoted whole (``"atlassian Jira"~10`` -> ``text ~ "\\"atlassian Jira\\"~10"``).
    """
    if kind == "jql":
        return query
    if kind == "lucene":
        try:
            return render(parse(f"text ~ {query}"))
        except JqlSyntaxError:
            pass
    return "text ~ " + quote(query)

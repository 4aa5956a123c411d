"""The fixed issue set of the JQL conformance table (this module has no tests of its own).

Eight issues in two projects, chosen for the traps: empty fields (no assignee, labels, due date,
resolution; an empty description string; an ADF description with no text), ADF descriptions
whose words sit in separate text nodes, numeric-looking names (project "2024", status "42",
component "501", version "10350") beside objects whose *ids* are those numbers, and blocking
links worded the standard way, in capitals, the other way round, and under a type a profile
must name ("Depends").
"""

from __future__ import annotations

BLOCKS = {"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks"}
BLOCKS_CAPS = {"id": "10010", "name": "BLOCKS", "inward": "Is Blocked By", "outward": "Blocks"}
REVERSED = {"id": "10011", "name": "Blocked", "inward": "blocks", "outward": "is blocked by"}
DEPENDS = {"id": "10012", "name": "Depends", "inward": "is depended on by", "outward": "depends on"}
RELATES = {"id": "10003", "name": "Relates", "inward": "relates to", "outward": "relates to"}
LINK_TYPES = (BLOCKS, BLOCKS_CAPS, REVERSED, DEPENDS, RELATES)

CONF = {"id": "10100", "key": "CONF", "name": "Conformance"}
NUM = {"id": "10200", "key": "NUM", "name": "2024"}
_CAT = {"new": {"id": 2, "key": "new", "name": "To Do"}, "indeterminate": {"id": 4, "key": "indeterminate",
        "name": "In Progress"}, "done": {"id": 3, "key": "done", "name": "Done"}}
OPEN = {"id": "1", "name": "Open", "statusCategory": _CAT["new"]}
IN_PROGRESS = {"id": "3", "name": "In Progress", "statusCategory": _CAT["indeterminate"]}
CLOSED = {"id": "6", "name": "Closed", "statusCategory": _CAT["done"]}
S42 = {"id": "10042", "name": "42", "statusCategory": _CAT["new"]}
HIGH, MEDIUM, LOW = ({"id": "2", "name": "High"}, {"id": "3", "name": "Medium"}, {"id": "4", "name": "Low"})
BUG, TASK, STORY = ({"id": "1", "name": "Bug"}, {"id": "3", "name": "Task"}, {"id": "10001", "name": "Story"})
FIXED = {"id": "1", "name": "Fixed"}
API, DB, C501 = {"id": "501", "name": "api"}, {"id": "502", "name": "db"}, {"id": "777", "name": "501"}
V10 = {"id": "10350", "name": "1.0"}
V10350 = {"id": "20001", "name": "10350"}


def adf(*paragraphs: list[str]) -> dict:
    """An ADF document: one paragraph per argument, each a list of text nodes."""
    return {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": t} for t in texts]} for texts in paragraphs]}


def _user(name: str | None) -> dict | None:
    """A REST user object (None stays None)."""
    return None if name is None else {"name": name, "key": name, "displayName": name.capitalize()}


def _change(when: str, who: str, old: dict, new: dict) -> dict:
    """One changelog history entry of a status change."""
    return {"id": f"{when}{new['id']}", "author": _user(who), "created": when,
            "items": [{"field": "status", "fieldtype": "jira", "from": old["id"], "fromString": old["name"],
                       "to": new["id"], "toString": new["name"]}]}


def _issue(key: str, n: int, project: dict, summary: str, *, status: dict = OPEN, priority: dict = MEDIUM,
           issuetype: dict = BUG, assignee: str | None = None, labels: tuple = (), components: tuple = (),
           fix: tuple = (), affects: tuple = (), description=None, environment=None, due: str | None = None,
           comments: tuple = (), links: tuple = (), histories: tuple = ()) -> dict:
    """One REST issue of the set (created on 2021-03-0n)."""
    done = status["statusCategory"]["key"] == "done"
    return {"id": str(30000 + n), "key": key, "changelog": {"histories": list(histories)}, "fields": {
        "project": project, "summary": summary, "description": description, "environment": environment,
        "issuetype": issuetype, "status": status, "priority": priority,
        "resolution": FIXED if done else None,
        "resolutiondate": f"2021-03-{10 + n:02d}T10:00:00.000+0000" if done else None,
        "assignee": _user(assignee), "reporter": _user("reporter"), "creator": _user("reporter"),
        "labels": list(labels), "components": list(components), "fixVersions": list(fix), "versions": list(affects),
        "created": f"2021-03-0{n}T10:00:00.000+0000", "updated": "2021-04-01T10:00:00.000+0000",
        "duedate": due,
        "comment": {"comments": [{"id": f"{n}{k}", "body": b, "author": _user("bob")} for k, b in enumerate(comments)]},
        "issuelinks": list(links)}}


def _link(lid: str, ltype: dict, side: str, key: str) -> dict:
    """A link as one issue shows it: the other issue on its inward or outward side."""
    return {"id": lid, "type": ltype, f"{side}Issue": {"id": "", "key": key, "fields": {}}}


ISSUES = [
    _issue("CONF-1", 1, CONF, "Disk space alarm on node", priority=HIGH, assignee="alice", labels=("x",),
           components=(API,), fix=(V10,), due="2021-04-01",
           description="The disk space is low on the node controller.",
           links=(_link("1", BLOCKS, "outward", "CONF-2"), _link("4", RELATES, "inward", "CONF-4"))),
    _issue("CONF-2", 2, CONF, "Volume attach fails", status=IN_PROGRESS, assignee="bob", labels=("x", "y"),
           components=(DB,), fix=(V10350,), affects=(V10,), environment="Ubuntu 22.04",
           description=adf(["Volume attach fails when the"], ["disk ", "space runs out."]),
           links=(_link("1", BLOCKS, "inward", "CONF-1"),),
           histories=(_change("2021-03-05T10:00:00.000+0000", "alice", OPEN, IN_PROGRESS),)),
    _issue("CONF-3", 3, CONF, "Snapshot is slow", status=CLOSED, priority=LOW, comments=("the disk is fine",),
           links=(_link("2", BLOCKS_CAPS, "outward", "CONF-4"),),
           histories=(_change("2021-03-10T10:00:00.000+0000", "bob", OPEN, CLOSED),)),
    _issue("CONF-4", 4, CONF, "Upgrade quota service", status=S42, priority=HIGH, assignee="carol", labels=("y",),
           components=(C501,), description=adf([]),
           links=(_link("2", BLOCKS_CAPS, "inward", "CONF-3"), _link("4", RELATES, "outward", "CONF-1"))),
    _issue("CONF-5", 5, CONF, "Console shows stale state", issuetype=TASK, assignee="alice", components=(API,),
           due="2021-03-20", description="",
           links=(_link("3", REVERSED, "outward", "CONF-6"),)),
    _issue("CONF-6", 6, CONF, "Keypair import", issuetype=TASK, priority=LOW, labels=("x",), affects=(V10,),
           description="import of key pairs",
           links=(_link("3", REVERSED, "inward", "CONF-5"), _link("5", DEPENDS, "outward", "NUM-1"))),
    _issue("NUM-1", 7, NUM, "Numbered project issue", issuetype=STORY, assignee="bob",
           description=adf(["nothing to see here"]), links=(_link("5", DEPENDS, "inward", "CONF-6"),)),
    _issue("NUM-2", 8, NUM, "Second numbered issue", issuetype=STORY, status=CLOSED, priority=HIGH,
           assignee="alice", description="Disk and space"),
]
KEYS = [i["key"] for i in ISSUES]

"""Workflows: from categories, files and agile boards (Atlassian's own example), and what each move is."""

from __future__ import annotations

import json

import pytest

from labkit.tracker.errors import TrackerError
from labkit.tracker.workflow import Stage, Workflow

pytestmark = pytest.mark.unit

TOML = """
name = "team flow"
start = "Doing"
done = "Done"
lead_start = "Ready"
[[stages]]
name = "Backlog"
statuses = ["Open", "To Do"]
[[stages]]
name = "Ready"
statuses = ["Selected for Development"]
[[stages]]
name = "Doing"
statuses = ["In Progress"]
[[stages]]
name = "Review"
statuses = ["In Review"]
active = false
[[stages]]
name = "Done"
statuses = ["Resolved", "Closed"]
"""


def test_a_workflow_file_in_toml_and_json(tmp_path):
    p = tmp_path / "wf.toml"
    p.write_text(TOML)
    wf = Workflow.from_file(p)
    assert wf.names == ["Backlog", "Ready", "Doing", "Review", "Done"] and wf.name == "team flow"
    assert (wf.start_index, wf.done_index, wf.lead_index) == (2, 4, 1)
    assert wf.stage_of("in review") == 3 and not wf.stages[3].active
    j = tmp_path / "wf.json"
    j.write_text(json.dumps(wf.to_dict()))
    assert Workflow.from_file(j) == wf


@pytest.mark.parametrize(("text", "message"), [
    ("start = 'Doing'", "has no stages"),
    ("colour = 'red'\n[[stages]]\nname='A'", "unknown keys"),
    ("[[stages]]\nname='A'\nstatuses=['x']\n[[stages]]\nname='B'\nstatuses=['x']", "in two stages"),
    ("start='Z'\n[[stages]]\nname='A'\n[[stages]]\nname='B'", "not a stage"),
    ("start='B'\ndone='A'\n[[stages]]\nname='A'\n[[stages]]\nname='B'", "not before"),
    ("[[stages]]\nname='A'\nstatuses='x'\nactive='no'", "true or false"),
    ("[[stages", "not valid TOML"),
])
def test_a_bad_workflow_file_is_one_clear_error(tmp_path, text, message):
    p = tmp_path / "wf.toml"
    p.write_text(text)
    with pytest.raises(TrackerError, match=message):
        Workflow.from_file(p)


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(TrackerError, match="cannot read the workflow file"):
        Workflow.from_file(tmp_path / "nope.toml")


def test_moves_are_read_against_the_stage_order():
    wf = Workflow((Stage("To Do", ("Open",)), Stage("Doing", ("In Progress",)), Stage("Review", ("In Review",)),
                   Stage("Done", ("Closed",))), "Doing", "Done")
    assert [wf.move(0, 1), wf.move(1, 3), wf.move(2, 1), wf.move(3, 1), wf.move(1, 1), wf.move(-1, 2)] == \
        ["forward", "skip", "backward", "reopen", "same", "unmapped"]


def test_categories_take_keys_names_and_ids():
    wf = Workflow.from_categories({"Open": "new", "Doing": "In Progress", "Shipped": 3, "Odd": "purple"})
    assert [s.statuses for s in wf.stages] == [("Open",), ("Doing",), ("Shipped",)]
    assert wf.stage_of("Odd") == -1
    more = wf.with_statuses({"Waiting": "indeterminate"})
    assert more.stage_of("waiting") == 1 and wf.stage_of("waiting") == -1


def test_board_configuration_from_atlassians_example(shared_data):
    """Atlassian's example answer of GET /rest/agile/1.0/board/{boardId}/configuration (the published spec).

    The spec says: "the last column with statuses mapped to it is treated as the "Done" column".
    """
    spec = json.loads((shared_data / "jira" / "openapi" / "jira-software.v3.json").read_text())
    op = spec["paths"]["/rest/agile/1.0/board/{boardId}/configuration"]["get"]
    assert "the last column with statuses mapped to it is treated as the \"Done\" column" in op["description"]
    config = json.loads(op["responses"]["200"]["content"]["application/json"]["example"])
    statuses = [{"id": "1", "name": "Open", "statusCategory": {"key": "new"}},
                {"id": "4", "name": "Reopened", "statusCategory": {"key": "new"}},
                {"id": "3", "name": "In Progress", "statusCategory": {"key": "indeterminate"}},
                {"id": "5", "name": "Resolved", "statusCategory": {"key": "done"}}]
    wf = Workflow.from_board_configuration(config, statuses)
    assert wf.names == ["To Do", "In progress", "Done"]
    assert wf.stages[0].statuses == ("Open", "Reopened")
    assert (wf.start, wf.done) == ("In progress", "Done")
    config["columnConfig"]["columns"].append({"name": "Archive", "statuses": []})  # empty columns do not count
    assert Workflow.from_board_configuration(config, statuses).done == "Done"

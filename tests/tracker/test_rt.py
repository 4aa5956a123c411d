"""RT-style exports read, written and mapped to a Jira import plan."""

import pytest

from labkit.jira.errors import JiraError
from labkit.tracker import rt
from labkit.tracker.bulk_import import Mapping, plan_import

pytestmark = pytest.mark.unit


def test_generated_tickets_are_deterministic_and_round_trip(tmp_path):
    a = list(rt.generate_tickets(300, seed=7))
    assert a == list(rt.generate_tickets(300, seed=7)) and a != list(rt.generate_tickets(300, seed=8))
    assert sum(1 for t in a if t.links) > 60
    for suffix in ("csv", "json"):
        path = rt.write_tickets(a, tmp_path / f"export.{suffix}")
        assert rt.read_tickets(path) == a


def test_bad_exports_name_the_line(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("id,subject,links\n1,ok,\n2,,\n")
    with pytest.raises(JiraError, match=r"x.csv:3: ticket without subject"):
        rt.read_tickets(p)
    p.write_text("id,subject,links\n1,ok,Explodes:2\n")
    with pytest.raises(JiraError, match="bad link"):
        rt.read_tickets(p)
    p.write_text("id,subject\n1,a\n1,b\n")
    with pytest.raises(JiraError, match="ids repeat"):
        rt.read_tickets(p)
    (tmp_path / "y.json").write_text("[{")
    with pytest.raises(JiraError, match="not valid JSON"):
        rt.read_tickets(tmp_path / "y.json")


def test_plan_maps_depends_on_to_a_blocks_link_with_the_right_direction():
    tickets = [rt.Ticket("1", "base"), rt.Ticket("2", "needs base", links=(("DependsOn", "1"),)),
               rt.Ticket("3", "see 2", links=(("RefersTo", "2"), ("DependsOn", "99")))]
    plan = plan_import(tickets, Mapping(project="OPS", users={"a@x": "ann"}))
    assert [i.fields["labels"] for i in plan.issues] == [["rt-1"], ["rt-2"], ["rt-3"]]
    blocks = [ln for ln in plan.links if ln.type == "Blocks"]
    # "2 DependsOn 1": 1 blocks 2, so 1 is the POST's inwardIssue
    assert [(ln.inward, ln.outward) for ln in blocks] == [("1", "2")]
    assert any("99" in s and "not in this import" in s for s in plan.skipped_links)
    frame = plan.to_frame()
    assert list(frame["source_id"]) == ["1", "2", "3"] and frame.loc[1, "links"] == ["DependsOn 1"]


def test_batches_never_hold_both_ends_of_a_link_so_links_ride_in_the_creates():
    from labkit.tracker.bulk_import import BULK_LIMIT, _batches

    tickets = list(rt.generate_tickets(1500, seed=4, link_ratio=0.9))
    plan = plan_import(tickets, Mapping(project="OPS"))
    touching: dict = {}
    for ln in plan.links:
        touching.setdefault(ln.inward, []).append(ln)
        touching.setdefault(ln.outward, []).append(ln)
    batches = list(_batches(plan.issues, touching))
    seen = [i.source_id for b in batches for i in b]
    assert sorted(seen, key=int) == [t.id for t in tickets] and len(seen) == len(set(seen))
    assert all(0 < len(b) <= BULK_LIMIT for b in batches)
    where = {i.source_id: n for n, b in enumerate(batches) for i in b}
    assert all(where[ln.inward] != where[ln.outward] for ln in plan.links)
    assert len(batches) <= len(tickets) // BULK_LIMIT + 5  # deferral costs only a few extra calls


def test_exports_that_are_not_ticket_lists_are_clear_errors(tmp_path):
    """A JSON export that is no list of objects, binary text or a folder is a JiraError naming the file."""
    cases = {"obj.json": '{"a": 1}', "ints.json": "[1, 2]", "pair.jsonl": '{"id": 1, "subject": "a", "links": [["DependsOn"]]}'}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(JiraError, match="obj.json does not hold a list of ticket objects"):
        rt.read_tickets(tmp_path / "obj.json")
    with pytest.raises(JiraError, match="ints.json does not hold a list of ticket objects"):
        rt.read_tickets(tmp_path / "ints.json")
    with pytest.raises(JiraError, match="bad link"):
        rt.read_tickets(tmp_path / "pair.jsonl")
    (tmp_path / "bin.csv").write_bytes(b"id,subject\n1,\xff\n")
    with pytest.raises(JiraError, match="cannot read .*bin.csv as UTF-8 text"):
        rt.read_tickets(tmp_path / "bin.csv")
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(JiraError, match="no export file at"):
        rt.read_tickets(tmp_path / "folder.csv")
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text('{"tickets": [{"id": 7, "subject": "kept"}]}')
    assert rt.read_tickets(wrapped) == [rt.Ticket("7", "kept")]


def test_an_unwritable_or_foreign_import_journal_is_refused_before_any_call(tmp_path):
    """The import journal must be a writable file holding journal events; nothing is created when it is not."""
    from labkit.tracker.bulk_import import Journal

    with pytest.raises(JiraError, match="cannot write the import journal"):
        Journal(tmp_path / "no" / "dir" / "j.journal")
    assert not (tmp_path / "no").exists()
    with pytest.raises(JiraError, match="cannot write the import journal"):
        Journal(tmp_path)
    (tmp_path / "list.journal").write_text("[1, 2]\n{}\n")
    with pytest.raises(JiraError, match="list.journal:1 is not a journal event"):
        Journal(tmp_path / "list.journal")
    (tmp_path / "bin.journal").write_bytes(b"\xff\xfe")
    with pytest.raises(JiraError, match="not an import journal"):
        Journal(tmp_path / "bin.journal")
    assert not (tmp_path / "new.journal").exists() and Journal(tmp_path / "new.journal").created == {}


@pytest.mark.parametrize(("spec", "message"), [
    ("[1]", "a mapping spec is a table of keys, not list"),
    ('{"project": 5}', "mapping key 'project' has the wrong shape"),
    ('{"project": "OPS", "statuses": ["new", "open"]}', "mapping key 'statuses' has the wrong shape"),
    ('{"project": "OPS", "users": "alice"}', "mapping key 'users' has the wrong shape"),
    ('{"project": "OPS", "links": {"DependsOn": 3}}', "mapping key 'links' has the wrong shape"),
    ('{"project": "OPS", "links": {"Duplicates": "Blocks"}}', "mapping key 'links' has the wrong shape"),
    ('{"project": "OPS", "extra_labels": "x"}', "mapping key 'extra_labels' has the wrong shape"),
])
def test_a_mapping_spec_of_the_wrong_shape_names_the_key(tmp_path, spec, message):
    """Each mapping key with a value of the wrong shape is a JiraError naming the key, never a traceback."""
    path = tmp_path / "mapping.json"
    path.write_text(spec)
    with pytest.raises(JiraError, match=message):
        Mapping.from_file(path)


def test_a_mapping_spec_in_toml_with_every_key(tmp_path):
    """A TOML spec with every key gives the mapping it says (links as [type, other side is inward])."""
    path = tmp_path / "mapping.toml"
    path.write_text('project = "OPS"\nissuetype = "Bug"\nextra_labels = ["legacy"]\nqueue_as_component = true\n'
                    '[users]\n"a@x" = "ann"\n[statuses]\nnew = "Open"\n[links]\nDependsOn = ["Blocks", true]\n'
                    'RefersTo = "Relates"\n')
    m = Mapping.from_file(path)
    assert (m.project, m.issuetype, m.extra_labels, m.queue_as_component) == ("OPS", "Bug", ("legacy",), True)
    assert m.links == {"DependsOn": ("Blocks", True), "RefersTo": ("Relates", False)}
    assert m.users == {"a@x": "ann"} and m.statuses == {"new": "Open"}


def test_import_cli_mistakes_are_one_line_and_exit_1(tmp_path, capsys):
    """``labkit jira import`` with a bad export, mapping or journal prints one line and exits 1, sending nothing."""
    from labkit.cli import main

    (tmp_path / "ints.json").write_text("[1, 2]")
    (tmp_path / "ok.csv").write_text("id,subject\n1,a\n")
    (tmp_path / "map.json").write_text('{"project": "OPS", "users": "alice"}')
    for args, message in [
        (["jira", "import", str(tmp_path / "ints.json"), "--project", "OPS"], "does not hold a list of ticket objects"),
        (["jira", "import", str(tmp_path), "--project", "OPS"], "no export file"),
        (["jira", "import", str(tmp_path / "ok.csv"), "--mapping", str(tmp_path / "map.json")],
         "mapping key 'users' has the wrong shape"),
        (["jira", "import", str(tmp_path / "ok.csv"), "--project", "OPS", "--apply",
          "--journal", str(tmp_path / "no" / "j.journal")], "cannot write the import journal"),
    ]:
        assert main(args) == 1, args
        err = capsys.readouterr().err
        assert err.startswith("labkit: error: ") and message in err and err.strip().count("\n") == 0, err
    assert not (tmp_path / "no").exists()

"""``labkit jira search`` and ``labkit jira mirror`` against a sandbox started like a user would."""

from __future__ import annotations

import csv
import io
import json

import pytest

from labkit.cli import main
from labkit.jira.client import JiraClient
from labkit.jira.store.mirror import mirror, mirror_query, state_path

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = 40


@pytest.fixture
def jira(run_dir, monkeypatch, tmp_path):
    """The sandbox jira service in a private run dir, and a client for it."""
    import labkit.sandbox as sandbox

    monkeypatch.setenv("LABKIT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("LABKIT_JIRA_SEED_ISSUES", str(N))
    monkeypatch.delenv("LABKIT_PROFILE", raising=False)
    sandbox.start(["jira"])
    client = JiraClient.from_profile()
    yield client
    client.close()


def test_search_formats(jira, capsys):
    jql = "created is not EMPTY ORDER BY key ASC"
    keys = jira.search_keys(jql)
    assert main(["jira", "search", jql, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["key"] for r in rows] == keys and "blocked_by" in rows[0]
    assert main(["jira", "search", jql, "--format", "json", "--limit", "5"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["key"] for d in data] == keys[:5] and isinstance(data[0]["labels"], list)
    assert main(["jira", "search", jql]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["key", "issuetype", "status"] and len(table) == N + 2
    assert main(["jira", "search", "created is not EMPTY", "--count"]) == 0
    assert capsys.readouterr().out.strip() == str(N)


def test_search_errors_are_one_line(jira, capsys):
    assert main(["jira", "search", "summary ~"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("labkit: error: the server rejected the JQL")
    assert main(["jira", "search", "created is not EMPTY", "--columns", "nope"]) == 1
    assert "no column nope" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:  # a number out of range is argparse's usage error (exit 2)
        main(["jira", "search", "created is not EMPTY", "--limit", "-1"])
    assert usage.value.code == 2
    assert "--limit: '-1' is not a whole number from 0 to 2147483647" in capsys.readouterr().err


def test_mirror_errors_are_one_line_and_leave_no_store(jira, tmp_path, capsys):
    db = tmp_path / "m.sqlite"
    assert main(["jira", "mirror", "--db", str(db), "--jql", "project ="]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("labkit: error: the mirror's JQL 'project =' is not valid"), err
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("m.sqlite")]  # no store, no sync state
    (tmp_path / "notes.txt").write_text("not a database")
    assert main(["jira", "mirror", "--db", str(tmp_path / "notes.txt")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "as a labkit store" in err[0]
    assert (tmp_path / "notes.txt").read_text() == "not a database"


def test_mirror_is_incremental_and_resumable(jira, tmp_path, capsys):
    from labkit.jira.store import Store

    db = tmp_path / "mirror.sqlite"
    first = mirror(jira, db, page_size=10, max_pages=2)          # interrupted after 2 of 4 pages
    assert first.pulled == 20 and not first.resumed
    assert json.loads(state_path(db).read_text())["run"]["cursor"] == 20
    assert main(["jira", "mirror", "--db", str(db), "--page-size", "10", "--format", "json"]) == 0
    done = json.loads(capsys.readouterr().out)[0]
    assert done["resumed"] is True and done["pulled"] == N and done["total_in_store"] == N
    with Store(str(db)) as store:
        assert store.search_keys("ORDER BY key ASC")[0] == jira.search_keys("created is not EMPTY ORDER BY key ASC")
    # change one issue on the server: the next run pulls only what changed since the last sync
    key = jira.search_keys("created is not EMPTY ORDER BY key ASC")[3]
    jira.update_issue(key, {"summary": "changed upstream"})
    again = mirror(jira, db, page_size=10)
    assert again.since == done["synced_at"] and not again.resumed
    assert again.pulled == 1 and again.total_in_store == N
    with Store(str(db)) as store:
        assert store.get_issue(key)["fields"]["summary"] == "changed upstream"


def test_mirror_refuses_another_server_for_the_same_db(jira, tmp_path):
    from labkit.jira.errors import JiraError

    db = tmp_path / "m.sqlite"
    state_path(db).write_text(json.dumps({"url": "http://elsewhere", "jql": ""}))
    with pytest.raises(JiraError, match="mirrors http://elsewhere .*use another --db"):
        mirror(jira, db)
    assert not db.exists()


@pytest.mark.unit
def test_mirror_query_bounds():
    assert mirror_query("", None) == "created IS NOT EMPTY ORDER BY key ASC"
    assert mirror_query("project = A", "2024/01/02 03:04") == \
        'project = A AND updated >= "2024/01/02 03:04" ORDER BY key ASC'
    assert mirror_query("a = 1 OR b = 2", "2024/01/02 03:04") == \
        '(a = 1 OR b = 2) AND updated >= "2024/01/02 03:04" ORDER BY key ASC'


def test_mirror_resumes_on_cloud_by_page_token(tmp_path):
    from labkit.jira.sandbox import serve
    from labkit.jira.store import Store

    with serve(mode="cloud", seed_issues=120, seed=8) as sb:
        client = JiraClient(sb.url, sb.auth)
        db = tmp_path / "cloud.sqlite"
        part = mirror(client, db, page_size=50, max_pages=1)
        token = json.loads(state_path(db).read_text())["run"]["cursor"]
        assert part.pulled == 50 and isinstance(token, str)
        done = mirror(client, db, page_size=50)
        assert done.resumed and done.pulled == 120 and done.total_in_store == 120
        with Store(str(db)) as store:
            assert store.search_keys("ORDER BY key ASC")[0] == client.search_keys("created is not EMPTY ORDER BY key ASC")

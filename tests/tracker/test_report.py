"""The HTML flow report (self-contained, every chart titled, never clobbering) and ``labkit report`` on the sandbox."""

from __future__ import annotations

import re

import pytest

import labkit.tracker.analytics  # noqa: F401  (df.jira)
from labkit.cli import main
from labkit.jira.sandbox.demo import generate
from labkit.tracker.errors import TrackerError
from labkit.tracker.history import read_issues
from labkit.tracker.report import GENERATOR, build_report
from labkit.tracker.workflow import Workflow

CHART_TITLES = ["Cycle time", "Cycle time distribution", "Weekly throughput", "Cumulative flow",
                "Ageing work in progress"]


@pytest.fixture(scope="module")
def report():
    frame, log, counts = read_issues(generate(400, seed=3))
    wf = Workflow.from_categories({"Open": "new", "To Do": "new", "In Progress": "indeterminate",
                                   "In Review": "indeterminate", "Resolved": "done", "Closed": "done"})
    key = next(k for k, b in zip(frame["key"], frame["blocked_by"], strict=True) if b)
    return build_report(frame, log, counts, wf, source="https://user:pw@jira.example.com: project = DEMO",
                        release_key=key, trials=2000)


@pytest.mark.unit
def test_the_report_is_one_self_contained_file_with_every_chart_titled(report):
    html = report.html()
    titles = [c.title for c in report.charts]
    assert titles[:5] == CHART_TITLES and any(t.startswith("How many items by") for t in titles)
    assert any(t.startswith("When will") and "open blockers" in t for t in titles)
    for t in titles:  # each chart's title is text inside its SVG, and labels its figure
        assert f'aria-label="{t}"' in html
        assert re.search(r"<text[^>]*>" + re.escape(t.replace("&", "&amp;")) + "</text>", html), t
    assert html.count("<svg") == len(titles)
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"https?://", html)  # nothing from the network
    assert "pw@" not in html and "jira.example.com" in html  # the source is shown, its credentials masked
    assert "NaN" not in re.sub(r"<script.*?</script>", "", html, flags=re.S)


@pytest.mark.unit
def test_writing_never_clobbers_someone_elses_file(report, tmp_path):
    out = tmp_path / "flow.html"
    report.write(out)
    first = out.read_text()
    assert f'content="{GENERATOR}"' in first
    report.write(out)  # an earlier labkit report is replaced
    notes = tmp_path / "notes.html"
    notes.write_text("<html>my notes</html>")
    with pytest.raises(TrackerError, match="not a labkit report"):
        report.write(notes)
    assert notes.read_text() == "<html>my notes</html>"
    with pytest.raises(TrackerError, match="does not exist"):
        report.write(tmp_path / "no" / "such" / "dir.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flow.html", "notes.html"]  # no temporary left


@pytest.mark.unit
def test_without_histories_the_report_says_so_and_still_forecasts():
    frame, _log, _counts = read_issues(generate(300, seed=4, changelog=False))
    rep = build_report(frame, None, None, Workflow.default(frame), trials=500)
    titles = [c.title for c in rep.charts]
    assert "Cycle time" not in titles and "Weekly throughput" in titles
    assert any(t.startswith("How many items by") for t in titles)
    html = rep.html()
    assert "No status histories were given" in html


@pytest.fixture
def jira(run_dir, monkeypatch, tmp_path):
    """The sandbox jira service in a private run dir (as a user starts it)."""
    import labkit.sandbox as sandbox

    monkeypatch.setenv("LABKIT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("LABKIT_JIRA_SEED_ISSUES", "150")
    monkeypatch.delenv("LABKIT_PROFILE", raising=False)
    sandbox.start(["jira"])
    return sandbox


@pytest.mark.integration
@pytest.mark.slow
def test_labkit_report_on_the_sandbox(jira, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["report", "--jql", "project = DEMO", "--trials", "1000"]) == 0  # the dry run
    captured = capsys.readouterr()
    assert "cycle time p85 (days)" in captured.out and "dry run" in captured.err and not out.exists()
    wf = tmp_path / "wf.toml"
    wf.write_text('start = "Doing"\ndone = "Done"\n[[stages]]\nname = "Backlog"\nstatuses = ["Open", "To Do"]\n'
                  '[[stages]]\nname = "Doing"\nstatuses = ["In Progress"]\n[[stages]]\nname = "Review"\n'
                  'statuses = ["In Review"]\nactive = false\n[[stages]]\nname = "Done"\nstatuses = ["Resolved", "Closed"]\n')
    assert main(["report", "--jql", "project = DEMO", "--workflow", str(wf), "--out", str(out),
                 "--trials", "1000", "--release", "DEMO-2"]) == 0
    captured = capsys.readouterr()
    html = out.read_text()
    assert f"wrote {out}" in captured.err and "charts" in captured.err
    assert "Backlog" in html and "When will DEMO-2 and its" in html
    assert jira.secret("jira").reveal() not in html
    assert main(["report", "--jql", "project = DEMO", "--board", "1", "--out", str(out), "--trials", "500"]) == 0
    assert "In Review" in out.read_text() and "DEMO board" in out.read_text()


@pytest.mark.integration
@pytest.mark.slow
def test_labkit_report_from_a_local_mirror(jira, tmp_path, capsys):
    db = tmp_path / "m.sqlite"
    assert main(["jira", "mirror", "--db", str(db), "--jql", "project = OPS"]) == 0
    capsys.readouterr()
    out = tmp_path / "offline.html"
    assert main(["report", "--store", str(db), "--jql", "project = OPS", "--out", str(out), "--format", "json",
                 "--trials", "500"]) == 0
    assert '"measure": "items"' in capsys.readouterr().out and "Cumulative flow" in out.read_text()


@pytest.mark.integration
@pytest.mark.slow
def test_labkit_report_mistakes_are_one_line(jira, tmp_path, capsys):
    notes = tmp_path / "notes.html"
    notes.write_text("mine")
    cases = [
        (["report"], "no --jql"),
        (["report", "--jql", "project = DEMO", "--workflow", str(tmp_path / "none.toml")], "cannot read the workflow"),
        (["report", "--jql", "project = DEMO", "--out", str(notes), "--trials", "200"], "not a labkit report"),
        (["report", "--jql", "project = NOPE"], "the server rejected the JQL"),
        (["report", "--jql", 'project = DEMO AND summary ~ "zzyzx"'], "finds no issues"),
        (["report", "--jql", "project = DEMO", "--trials", "0"], "--trials 0 is less than 1"),
        (["report", "--store", str(tmp_path / "none.db")], "no local store"),
    ]
    for argv, message in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("labkit: error: ") and message in err[0], (argv, err)
    assert notes.read_text() == "mine"

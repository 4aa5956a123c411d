"""The review form drives the real core calls: load, amend preview, dry run, tests, merge."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import git, neg_branch

pytestmark = pytest.mark.integration


@pytest.fixture
def pr(make_repo):
    repo = make_repo()
    git(repo, "branch", "release")
    return repo, neg_branch(repo).decode()


def test_form_buttons_run_the_core(pr):
    pytest.importorskip("ipywidgets")
    pytest.importorskip("anywidget")
    from labkit.forms.review import ReviewForm

    repo, mbox = pr
    form = ReviewForm(source=mbox, repo=str(repo), onto="release", issue_pattern=r"CALC-\d+", issue_id="CALC-5",
                      test_cmd="python3 -c 'import calc; assert calc.neg(2) == -2'")
    form.buttons["load"].click()
    assert form.series is not None and len(form.diff.commits) == 1
    assert form.diff.commits[0]["files"][0]["path"] == "calc.py"
    assert {c["check"] for c in form.diff.commits[0]["checks"]} >= {"issue-id", "applies"}
    frame = form.checks_frame()
    assert frame.loc[0, "issue-id"] == "fail" and frame.loc[0, "applies"] == "pass"
    assert form.amend().loc[0, "after"] == "CALC-5: add neg"
    before = git(repo, "rev-parse", "release")
    form.buttons["merge"].click()  # dry run by default
    assert form.result.status == "planned" and git(repo, "rev-parse", "release") == before
    form.buttons["test"].click()
    assert form.result.status == "applied" and form.result.test.passed
    assert git(repo, "rev-parse", "release") == before and form.dry_run.value is True
    form.dry_run.value = False
    form.buttons["merge"].click()
    assert form.result.status == "merged", form.message.value
    assert git(repo, "log", "-1", "--format=%s", "release").strip() == "CALC-5: add neg"
    form.onto.value = "nope"
    form.buttons["apply"].click()
    assert "not a branch" in form.message.value


@pytest.fixture
def revised(make_repo, tmp_path):
    """A repo with a release branch and two revisions of a 2-commit topic (v2 changes commit 1, adds a third)."""
    repo = make_repo()
    git(repo, "branch", "release")
    (repo / "NEWS").write_text("news\n")
    git(repo, "add", "NEWS")
    git(repo, "commit", "-q", "-m", "news on main only")
    git(repo, "checkout", "-q", "-b", "v1")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef neg(a):\n    return -a\n")
    git(repo, "commit", "-q", "-am", "CALC-1: neg")
    (repo / "README").write_text("calc\nneg\n")
    git(repo, "commit", "-q", "-am", "CALC-1: document neg")
    git(repo, "checkout", "-q", "-b", "v2", "main")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef neg(a):\n    return 0 - a\n")
    git(repo, "commit", "-q", "-am", "CALC-1: neg")
    (repo / "README").write_text("calc\nneg\n")
    git(repo, "commit", "-q", "-am", "CALC-1: document neg")
    (repo / "NEWS").write_text("news\nneg\n")
    git(repo, "commit", "-q", "-am", "CALC-1: news")
    git(repo, "checkout", "-q", "main")
    old = tmp_path / "v1.patch"
    old.write_bytes(subprocess.run(["git", "-C", str(repo), "format-patch", "--stdout", "main..v1"],
                                   capture_output=True, check=True).stdout)
    new = subprocess.run(["git", "-C", str(repo), "format-patch", "--stdout", "main..v2"], capture_output=True,
                         check=True).stdout.decode()
    return repo, old, new


def test_form_backport_tab_and_revisions_view(revised):
    pytest.importorskip("ipywidgets")
    from labkit.forms.review import ReviewForm

    repo, old, new = revised
    form = ReviewForm(source=new, repo=str(repo), onto="main", issue_pattern=r"CALC-\d+", backport_onto="main, release",
                      test_cmd="python3 -c 'import calc; assert calc.neg(2) == -2'", old_revision=str(old))
    assert [form.tabs.get_title(i) for i in range(3)] == ["Review", "Backport", "Revisions"]
    before = git(repo, "for-each-ref")
    form.branch_prefix.value = "bp/"
    form.buttons["backport"].click()
    grid = form.backport_result.grid_rows()
    assert [r["main"] for r in grid] == ["applied", "applied", "applied", "pass"]
    assert [r["release"] for r in grid][2] == "conflict: NEWS"
    assert git(repo, "for-each-ref") == before  # dry run: no branch kept
    form.dry_run.value = False
    form.buttons["backport"].click()
    assert git(repo, "branch", "--list", "bp/*").split() == ["bp/main"]
    form.buttons["compare"].click()
    view = form.range_view
    assert view.kind == "range" and [r["status"] for r in view.ranges] == ["changed", "unchanged", "added"]
    assert view.index == 0 and "+    return 0 - a" in view.ranges[0]["diff"]
    assert view.labels[0] == str(old)
    form.old_revision.value = ""
    form.buttons["compare"].click()  # mbox text has no force-push history: a clear message, not a traceback
    assert "no old revision" in form.message.value

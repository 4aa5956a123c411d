"""The review form drives the real core calls: load, amend preview, dry run, tests, merge."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import git

pytestmark = pytest.mark.integration


@pytest.fixture
def pr(make_repo):
    repo = make_repo()
    git(repo, "branch", "release")
    git(repo, "checkout", "-q", "-b", "pr")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef neg(a):\n    return -a\n")
    git(repo, "commit", "-q", "-am", "add neg")
    git(repo, "checkout", "-q", "main")
    mbox = subprocess.run(["git", "-C", str(repo), "format-patch", "--stdout", "main..pr"], capture_output=True,
                          check=True).stdout.decode()
    return repo, mbox


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

"""``labkit pr review|apply`` on real series and a real repository."""

from __future__ import annotations

import json
import subprocess

import pytest

from labkit.cli import main

from .conftest import data_dir, git, neg_branch

pytestmark = pytest.mark.integration


def test_review_prints_series_and_checks(capsys):
    d = data_dir("eucalyptus")
    code = main(["pr", "review", str(d / "pr26-dkavanagh.patch"), "--format", "json",
                 "--issue-pattern", r"EUCA-\d+"])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert [r["author"] for r in doc["series"]] == ["dkavanagh", "dkavanagh"]
    checks = doc["checks"]
    assert {c["check"] for c in checks} >= {"issue-id", "signoff", "whitespace", "size"}
    failed = [c for c in checks if c["status"] == "fail"]
    assert code == (1 if failed else 0)
    # a failed check ends with one error line naming it; a clean review has none
    errors = [ln for ln in err.splitlines() if ln.startswith("labkit: error:")]
    assert len(errors) == (1 if failed else 0)
    assert all(e.startswith(f"labkit: error: {len(failed)} of {len(checks)} checks failed: ") for e in errors)


def test_apply_dry_run_then_real(make_repo, capsys, tmp_path):
    repo = make_repo()
    patch = tmp_path / "pr.patch"
    patch.write_bytes(neg_branch(repo))
    before = git(repo, "rev-parse", "main")
    assert main(["pr", "apply", str(patch), "--repo", str(repo), "--onto", "main", "--merge", "ff",
                 "--amend-issue", "CALC-1"]) == 0  # a dry run unless --apply
    out, err = capsys.readouterr()
    assert "fast-forward main" in out and "add --apply" in err
    assert git(repo, "rev-parse", "main") == before
    assert main(["pr", "apply", str(patch), "--repo", str(repo), "--onto", "main", "--merge", "ff",
                 "--amend-issue", "CALC-1", "--test", "false", "--apply"]) == 1
    assert git(repo, "rev-parse", "main") == before
    assert main(["pr", "apply", str(patch), "--repo", str(repo), "--onto", "main", "--merge", "ff",
                 "--amend-issue", "CALC-1", "--test", "true", "--apply"]) == 0
    assert git(repo, "log", "-1", "--format=%s", "main").strip() == "CALC-1: add neg"
    assert main(["pr", "apply", str(patch), "--repo", str(repo)]) == 1
    assert "apply needs --onto" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["{tmp}/missing.patch"], "no file {tmp}/missing.patch"),
    (["{tmp}"], "{tmp} is a directory"),
    (["o/r#1", "--base-url", "git.example.com"], "base URL 'git.example.com' is not an http(s) URL"),
    (["o/r#1", "--api-url", "/api/v3"], "API URL '/api/v3' is not an http(s) URL"),
    (["{patch}", "--issue-pattern", "EUCA-("], "issue pattern 'EUCA-(' is not a regular expression"),
])
@pytest.mark.parametrize("command", ["review", "apply"])
def test_a_user_mistake_is_one_line_and_exit_1(capsys, tmp_path, make_repo, command, argv, words):
    patch = data_dir("eucalyptus") / "pr26-dkavanagh.patch"
    fill = {"tmp": str(tmp_path), "patch": str(patch)}
    onto = ["--onto", "main", "--repo", str(make_repo()), "--amend-issue", "EUCA-1"] if command == "apply" else []
    code = main(["pr", command, *[a.format(**fill) for a in argv], *onto])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and err.count("\n") == 1 and words.format(**fill) in err


@pytest.mark.parametrize("extra, flag", [
    (["--onto", "nope"], "--onto"),
    (["--onto", "main", "--repo", "{tmp}/nowhere"], "--repo"),
    (["--onto", "main", "--repo", "{tmp}"], "--repo"),
    (["--onto", "main", "--amend-issue", "not an id"], "--amend-issue"),
    (["--onto", "main", "--amend-issue", "CALC-1", "--issue-pattern", "CALC-("], "--issue-pattern"),
    (["--onto", "main", "--branch", "main"], "--branch"),
    (["--onto", "main", "--branch", "bad..name"], "--branch"),
    (["--onto", "{sha}", "--merge", "ff"], "--onto"),
    ([], "--onto"),
])
def test_every_hint_names_the_cli_flag(make_repo, tmp_path, capsys, extra, flag):
    repo = make_repo()
    patch = tmp_path / "pr.patch"
    patch.write_bytes(neg_branch(repo))
    sha = git(repo, "rev-parse", "main").strip()
    argv = [a.format(tmp=tmp_path, sha=sha) for a in extra]
    if "--repo" not in argv:
        argv += ["--repo", str(repo)]
    code = main(["pr", "apply", str(patch), *argv])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("labkit: error:") and err.count("\n") == 1
    assert flag in err, err  # the CLI flag (a Python argument may be named too)


def test_a_thread_with_a_gap_hints_at_partial(make_repo, tmp_path, capsys):
    repo = make_repo()
    neg_branch(repo)
    git(repo, "checkout", "-q", "pr")
    (repo / "README").write_text("calc\nneg\n")
    git(repo, "commit", "-q", "-am", "document neg")
    git(repo, "checkout", "-q", "main")
    thread = subprocess.run(["git", "-C", str(repo), "format-patch", "--stdout", "--thread", "main..pr"],
                            capture_output=True, check=True).stdout
    patch = tmp_path / "thread.mbox"
    patch.write_bytes(thread.replace(b"@@ -1 +1,2 @@", b"@@ -1 +1,2 GARBAGE", 1))
    code = main(["pr", "apply", str(patch), "--repo", str(repo), "--onto", "main"])
    err = capsys.readouterr().err
    assert code == 1 and "--partial" in err and "labkit: warning: line" in err
    assert main(["pr", "apply", str(patch), "--repo", str(repo), "--onto", "main", "--partial", "--apply"]) == 0

"""check_series says "applies" exactly when apply_series succeeds: real series, git's own am corpus, and
generated CRLF, conflict and binary series.

The real eucalyptus series come without their repository: tests/review/preimage.py rebuilds, from the
series alone, a base tree each applies to (it shares no code with labkit). git's t4252 mails apply to
its file-1-0 / file-2-0 files; t4258's base64 mail carries CR LF lines (git's --quoted-cr case).
"""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import pytest

from labkit.review import apply_series, check_series, parse_mbox

from .conftest import data_dir, git
from .preimage import rebuild
from .test_apply import repo_state

pytestmark = [pytest.mark.integration]


def base_repo(path: Path, files: dict[str, bytes], modes: dict[str, str] | None = None) -> Path:
    """A repository whose main branch holds exactly ``files``."""
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "core.autocrlf", "false")
    for name, content in files.items():
        f = path / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(content)
        if (modes or {}).get(name) == "100755":
            f.chmod(0o755)
    git(path, "add", "-A")
    git(path, "commit", "-q", "--allow-empty", "-m", "base")
    return path


def verdicts(repo: Path, series, onto: str = "main", **kw):
    """Run the check and the apply; assert they agree (which patch fails, and on which files) and that neither
    changed the repository (refs, HEAD, index, stash, worktree list, files); return the apply."""
    before = repo_state(repo)
    checks = [r for r in check_series(series, repo=repo, onto=onto, issue_pattern=None, **kw) if r.check == "applies"]
    res = apply_series(repo, series, onto=onto, **kw)
    assert repo_state(repo) == before, "the check or the apply changed the repository"
    failed = [r for r in checks if r.status == "fail"]
    assert (not failed) == res.ok, (res.status, res.message, [(r.n, r.detail) for r in failed])
    if failed:
        assert failed[0].n == (res.failed_patch or 0), (failed[0].detail, res.message)
        assert all(f in failed[0].detail for f in res.conflicts)
        passed = [r.n for r in checks if r.status == "pass"]
        assert passed == list(range(1, failed[0].n))
    else:
        assert len(res.commits) == len(series)
    return res


@pytest.mark.slow
def test_check_equals_apply_on_every_real_series(tmp_path):
    d = data_dir("eucalyptus")
    names = [r["name"] for r in csv.DictReader((d / "series.tsv").open(encoding="utf-8"), delimiter="\t")
             if (d / f"{r['name']}.patch").exists()]
    applied, failed_on_binary = [], []
    for name in names:
        data = (d / f"{name}.patch").read_bytes()
        base = rebuild(data)
        repo = base_repo(tmp_path / name, base.files, base.modes)
        res = verdicts(repo, parse_mbox(data))
        (applied if res.ok else failed_on_binary).append(name)
        if not res.ok:  # only a binary change needs the real blob, which the rebuilt base cannot have
            assert any("binary" in u for u in base.unsure), (name, res.message)
    assert len(applied) >= 20 and len(names) >= 25, (applied, failed_on_binary)
    assert "branch-binary-console-ean" in failed_on_binary  # binary delta in patch 1


def test_crlf_real_series_gets_keep_cr_from_its_target(tmp_path):
    """branch-binary-console-ean deletes a CR LF file: keep the CRs (git am's default strips them and fails)."""
    d = data_dir("eucalyptus")
    data = (d / "branch-binary-console-ean.patch").read_bytes()
    series = parse_mbox(data)
    (c,) = [c for c in series if "console/static/js/engage.itoggle.css" in c.crlf_files]
    base = rebuild(data)
    assert b"\r\n" in base.files["console/static/js/engage.itoggle.css"]
    repo = base_repo(tmp_path / "r", base.files, base.modes)
    res = apply_series(repo, series, onto="main", dry_run=True)
    assert "--keep-cr" in res.am_args


def test_git_am_corpus_t4252(tmp_path):
    d = data_dir("git-test-corpus") / "t" / "t4252"
    one, two = (d / "file-1-0").read_bytes(), (d / "file-2-0").read_bytes()
    repo = base_repo(tmp_path / "r", {"file-1": one, "file-2": two, "junk/file-1": one, "junk/file-2": two})
    outcomes = {}
    for mail in sorted(d.glob("am-test-*")):
        res = verdicts(repo, parse_mbox(mail.read_bytes()))
        outcomes[mail.name] = res.ok
    assert outcomes["am-test-1-1"] is False  # "rejected because the first line in the context does not match"
    assert any(outcomes.values()) and not all(outcomes.values())


@pytest.mark.parametrize("target", [b"one\n", b"one\r\n"], ids=["lf-target", "crlf-target"])
def test_git_corpus_base64_crlf_mail_t4258(tmp_path, target):
    d = data_dir("git-test-corpus") / "t" / "t4258"
    series = parse_mbox((d / "mbox").read_bytes())
    (c,) = series
    assert c.crlf_files == ["text"] and c.cr_encoded
    repo = base_repo(tmp_path / "r", {"text": target})
    res = verdicts(repo, series)
    assert res.ok, res.message
    assert git(repo, "show", f"{res.head}:text").encode() == (b"two\r\n" if b"\r" in target else b"two\n")


@pytest.fixture
def crlf(make_repo):
    """A repo with a CR LF file on main, an LF copy of it on branch lf, and a series made against main."""
    repo = make_repo()
    git(repo, "config", "core.autocrlf", "false")
    (repo / "w.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    git(repo, "add", "w.txt")
    git(repo, "commit", "-q", "-m", "a CR LF file")
    git(repo, "checkout", "-q", "-b", "pr")
    (repo / "w.txt").write_bytes(b"one\r\nTWO\r\nthree\r\n")
    git(repo, "commit", "-q", "-am", "edit the CR LF file")
    (repo / "new.bat").write_bytes(b"@echo off\r\necho hi\r\n")
    git(repo, "add", "new.bat")
    git(repo, "commit", "-q", "-m", "add a CR LF file")
    git(repo, "checkout", "-q", "-b", "lf", "main")
    (repo / "w.txt").write_bytes(b"one\ntwo\nthree\n")
    git(repo, "commit", "-q", "-am", "LF now")
    git(repo, "checkout", "-q", "main")
    mbox = subprocess.run(["git", "-C", str(repo), "format-patch", "--stdout", "main..pr"], capture_output=True,
                          check=True).stdout
    return repo, parse_mbox(mbox)


def test_crlf_series_check_equals_apply_and_explains(crlf):
    repo, series = crlf
    assert [c.crlf_files for c in series] == [["w.txt"], ["new.bat"]]
    on_crlf = verdicts(repo, series, onto="main")
    assert "--keep-cr" in on_crlf.am_args
    assert git(repo, "cat-file", "-p", f"{on_crlf.head}:new.bat").encode() == b"@echo off\r\necho hi\r\n"
    on_lf = verdicts(repo, series, onto="lf")
    assert "--no-keep-cr" in on_lf.am_args and git(repo, "show", f"{on_lf.head}:w.txt") == "one\nTWO\nthree\n"
    forced = verdicts(repo, series, onto="main", keep_cr=False)
    assert forced.status == "conflict" and forced.failed_patch == 1 and forced.conflicts == ["w.txt"]
    assert "try --keep-cr on the CLI (keep_cr=True in Python)" in forced.message
    # plain git am (CRs stripped, as mailsplit does by default) fails on the CR LF target
    git(repo, "checkout", "-q", "--detach", "main")
    am = subprocess.run(["git", "-C", str(repo), "am", "-q"], input=series.to_mbox(), capture_output=True,
                        env={**os.environ, "GIT_COMMITTER_NAME": "c", "GIT_COMMITTER_EMAIL": "c@example.com"})
    assert am.returncode != 0
    subprocess.run(["git", "-C", str(repo), "am", "--abort"], capture_output=True)


def test_conflict_and_binary_series_check_equals_apply(make_repo):
    repo = make_repo()
    (repo / "blob.bin").write_bytes(bytes(range(256)) * 8)
    git(repo, "add", "blob.bin")
    git(repo, "commit", "-q", "-m", "a binary")
    git(repo, "checkout", "-q", "-b", "pr")
    (repo / "blob.bin").write_bytes(bytes(range(255, -1, -1)) * 8)
    git(repo, "commit", "-q", "-am", "change the binary")
    (repo / "calc.py").write_text("def add(a, b):\n    return b + a\n")
    git(repo, "commit", "-q", "-am", "swap")
    git(repo, "mv", "README", "README.md")
    git(repo, "commit", "-q", "-m", "rename")
    git(repo, "checkout", "-q", "-b", "other", "main")
    (repo / "calc.py").write_text("def add(a, b):\n    return int(a) + int(b)\n")
    git(repo, "commit", "-q", "-am", "conflicting")
    git(repo, "checkout", "-q", "-b", "nobin", "main~1")
    git(repo, "checkout", "-q", "main")
    series = parse_mbox(subprocess.run(["git", "-C", str(repo), "format-patch", "-M", "--binary", "--stdout",
                                        "main..pr"], capture_output=True, check=True).stdout)
    assert verdicts(repo, series, onto="main").ok
    conflict = verdicts(repo, series, onto="other")
    assert conflict.failed_patch == 2 and conflict.conflicts == ["calc.py"]
    missing = verdicts(repo, series, onto="nobin")  # the binary's preimage is not there
    assert missing.failed_patch == 1
    no3way = verdicts(repo, series, onto="other", three_way=False)
    assert no3way.failed_patch == 2


def bare_am_tree(repo: Path, onto: str, argv: list[str], mbox: bytes) -> str | None:
    """The tree plain ``git am`` makes with ``argv`` in an ordinary full checkout of ``onto`` (None: it fails)."""
    git(repo, "checkout", "-q", "--detach", onto)
    env = {**os.environ, "GIT_COMMITTER_NAME": "c", "GIT_COMMITTER_EMAIL": "c@example.com"}
    am = subprocess.run(["git", "-C", str(repo), *argv], input=mbox, capture_output=True, env=env)
    tree = git(repo, "rev-parse", "HEAD^{tree}").strip() if am.returncode == 0 else None
    if am.returncode:
        subprocess.run(["git", "-C", str(repo), "am", "--abort"], capture_output=True)
    git(repo, "checkout", "-q", "main")
    return tree


def test_sparse_scratch_three_way_gives_the_tree_of_plain_git_am(make_repo):
    """The sparse worktree checks out only the series' paths, yet ``-3`` still merges where plain ``git am -3`` does:
    onto a branch that renamed the file (rename detection needs a path the series never names) and onto one that
    changed the hunk's context (git apply refuses, the 3-way merge succeeds). Oracle: plain git am in a full checkout."""
    repo = make_repo()
    lines = [f"line {i}\n" for i in range(40)]
    (repo / "calc.py").write_text("".join(lines))
    for i in range(20):
        (repo / f"other{i}.txt").write_text("x\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "pr")
    (repo / "calc.py").write_text("".join(lines).replace("line 20\n", "line 20 changed\n"))
    git(repo, "commit", "-q", "-am", "change line 20")
    git(repo, "checkout", "-q", "-b", "renamed", "main")
    (repo / "lib").mkdir()
    git(repo, "mv", "calc.py", "lib/calc.py")
    git(repo, "commit", "-q", "-m", "move calc.py")
    git(repo, "checkout", "-q", "-b", "context", "main")
    (repo / "calc.py").write_text("".join(lines).replace("line 17\n", "line 17 other\n")
                                  .replace("line 23\n", "line 23 other\n"))
    git(repo, "commit", "-q", "-am", "change the context")
    git(repo, "checkout", "-q", "main")
    mbox = subprocess.run(["git", "-C", str(repo), "format-patch", "--stdout", "main..pr"], capture_output=True,
                          check=True).stdout
    series = parse_mbox(mbox)
    for onto, changed in (("renamed", "lib/calc.py"), ("context", "calc.py")):
        res = verdicts(repo, series, onto=onto)
        assert res.ok and "-3" in res.am_args, (onto, res.message)
        assert git(repo, "rev-parse", f"{res.head}^{{tree}}").strip() == bare_am_tree(repo, onto, res.am_args, mbox)
        assert "line 20 changed" in git(repo, "show", f"{res.head}:{changed}")
    assert verdicts(repo, series, onto="context", three_way=False).failed_patch == 1  # only -3 merges it

"""parse_mbox on real series (eucalyptus), git-made series, peers' samples and damaged input."""

from __future__ import annotations

import csv
import email
import email.policy
import re
import subprocess

import pytest

from labkit.review import ReviewError, parse_diff, parse_mbox
from labkit.review.mailinfo import split_mbox

from .conftest import data_dir, git

pytestmark = pytest.mark.unit


def euca_rows():
    d = data_dir("eucalyptus")
    return d, list(csv.DictReader((d / "series.tsv").open(encoding="utf-8"), delimiter="\t"))


def test_every_eucalyptus_series_parses_right():
    d, rows = euca_rows()
    assert len(rows) >= 20
    for r in rows:
        data = (d / f"{r['name']}.patch").read_bytes()
        series = parse_mbox(data, source=r["name"])
        assert len(series) == int(r["n_commits"]), r["name"]
        assert sum(len(c.binary_files) for c in series) == int(r["binary_files"]), r["name"]
        # series.tsv counts the commits that rename files (branch-20commits renames 6 files in one commit)
        assert sum(1 for c in series if c.renames) == int(r["renames"]), r["name"]
        # authors: checked against the stdlib e-mail parser, an independent reader of the same headers
        for c, raw in zip(series, split_mbox(data), strict=True):
            msg = email.message_from_bytes(raw.data, policy=email.policy.default)
            addr = msg["From"].addresses[0]
            assert (c.author, c.email) == (addr.display_name or addr.addr_spec, addr.addr_spec), r["name"]
            assert c.subject and c.files


def test_eucalyptus_renames_and_binaries_in_detail():
    d, _ = euca_rows()
    s = parse_mbox((d / "branch-20commits-acct-fixes.patch").read_bytes())
    renamed = s[18].renames
    assert len(renamed) == 6
    assert ("clc/modules/www/conf/reports/user-report.groovy" in dict(renamed))
    sims = sorted(f.similarity for f in s[18].files if f.status == "renamed")
    assert sims[0] == 88 and sims[-1] == 100
    assert len(s[7].binary_files) == 3
    ean = parse_mbox((d / "branch-binary-console-ean.patch").read_bytes())
    assert [len(c.binary_files) for c in ean] == [1, 1]


def test_noirin_plunkett_when_present():
    d, rows = euca_rows()
    names = {r["name"] for r in rows}
    path = d / "pr15-noirin-readme.patch"
    if "pr15-noirin-readme" not in names or not path.exists():
        pytest.skip("pr15-noirin-readme.patch is not in this copy of shared/data (test_non_ascii_author_"
                    "rfc2047 covers the same author through a git-made series)")
    assert "Nóirín Plunkett" in parse_mbox(path.read_bytes()).authors[0]


def test_non_ascii_author_rfc2047(make_repo):
    repo = make_repo()
    (repo / "README").write_text("calc\n\nThanks to Nóirín.\n")
    git(repo, "commit", "-q", "-am", "README: credit Nóirín\n\nSigned-off-by: Nóirín Plunkett <noirin@apache.org>",
        env={"GIT_AUTHOR_NAME": "Nóirín Plunkett", "GIT_AUTHOR_EMAIL": "noirin@apache.org"})
    data = subprocess.run(["git", "-C", str(repo), "format-patch", "--stdout", "-1"], capture_output=True,
                          check=True).stdout
    assert b"=?UTF-8?q?N=C3=B3ir=C3=ADn?=" in data or b"=?UTF-8?" in data  # git encoded it
    (c,) = parse_mbox(data).commits
    assert (c.author, c.email) == ("Nóirín Plunkett", "noirin@apache.org")
    assert c.subject == "README: credit Nóirín"
    assert c.trailers == [("Signed-off-by", "Nóirín Plunkett <noirin@apache.org>")]


def test_git_made_series_statuses_modes_renames_binary(make_repo):
    repo = make_repo()
    (repo / "run.sh").write_text("#!/bin/sh\necho hi\n")
    git(repo, "add", "run.sh")
    git(repo, "commit", "-q", "-m", "base for later")
    (repo / "run.sh").chmod(0o755)
    git(repo, "mv", "README", "README.md")
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    git(repo, "add", "-A")
    git(repo, "rm", "-q", "calc.py")
    git(repo, "commit", "-q", "-m", "[ci] Shuffle files\n\nBody line.\n\nReviewed-by: R <r@example.com>")
    data = subprocess.run(["git", "-C", str(repo), "format-patch", "-M", "--binary", "--stdout", "-1"],
                          capture_output=True, check=True).stdout
    (c,) = parse_mbox(data)
    by = {f.path: f for f in c.files}
    assert by["README.md"].status == "renamed" and by["README.md"].old_path == "README"
    assert by["logo.png"].status == "added" and by["logo.png"].binary
    assert by["calc.py"].status == "deleted" and by["calc.py"].removed == 2
    assert by["run.sh"].mode_change and (by["run.sh"].old_mode, by["run.sh"].new_mode) == ("100644", "100755")
    assert c.subject == "Shuffle files"  # git am (without -b) drops every leading [tag]
    assert c.body == "Body line.\n\nReviewed-by: R <r@example.com>\n"
    assert c.trailers == [("Reviewed-by", "R <r@example.com>")]
    row = parse_mbox(data).to_frame().iloc[0]
    assert (row["files"], row["binary"], row["renames"]) == (4, 1, 1)


def test_mailing_list_mbox_with_cover_letter_and_reply():
    cover = (b"From nobody Mon Sep 17 00:00:00 2001\nFrom: A <a@example.com>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n"
             b"Subject: [PATCH v2 0/1] Tidy\n\nCover text.\n\n")
    patch = (b"From nobody Mon Sep 17 00:00:00 2001\nFrom: A <a@example.com>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n"
             b"Subject: [PATCH v2 1/1] Fix typo\n\nEUCA-5 fix.\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n"
             b"@@ -1 +1 @@\n-teh\n+the\n-- \n2.39.5\n\n")
    reply = (b"From nobody Mon Sep 17 00:00:00 2001\nFrom: B <b@example.com>\nSubject: Re: [PATCH v2 1/1] Fix typo\n"
             b"\nLooks good.\n")
    s = parse_mbox(cover + patch + reply)
    assert len(s) == 1 and s.cover is not None and s.cover.subject == "Tidy"
    assert [o.author for o in s.others] == ["B"]
    c = s[0]
    assert (c.number, c.total, c.version, c.subject, c.added, c.removed) == (1, 1, 2, "Fix typo", 1, 1)


@pytest.mark.parametrize("damage, where", [
    (lambda t: t.replace(b"@@ -1,2 +1,3 @@", b"@@ -1,2 +1,3"), "hunk header"),
    (lambda t: t[: t.index(b"+    b = 2")], "ends early"),
    (lambda t: t.replace(b"+    b = 2\n", b"*    b = 2\n"), "unexpected line"),
])
def test_malformed_input_names_the_line(damage, where):
    good = (b"From 0123456789012345678901234567890123456789 Mon Sep 17 00:00:00 2001\n"
            b"From: A <a@example.com>\nSubject: [PATCH] x\n\nmsg\n---\n"
            b"diff --git a/f.py b/f.py\n--- a/f.py\n+++ b/f.py\n@@ -1,2 +1,3 @@\n def f():\n"
            b"+    b = 2\n     return 1\n")
    assert parse_mbox(good)[0].added == 1
    with pytest.raises(ReviewError, match=where) as err:
        parse_mbox(damage(good))
    assert err.value.line is not None and str(err.value).startswith(f"line {err.value.line}:")
    assert err.value.line in (10, 11, 12, 13)


def test_no_patch_and_empty_input_are_clear_errors():
    with pytest.raises(ReviewError, match="empty"):
        parse_mbox(b"  \n")
    with pytest.raises(ReviewError, match="no patch found"):
        parse_mbox(b"From: a@b.c\nSubject: hello\n\njust talk\n")


def test_diff_counts_agree_with_unidiff_and_paths_with_git_apply():
    """Line counts against unidiff; each path against ``git apply --numstat`` (the reader git am uses)."""
    unidiff = pytest.importorskip("unidiff")
    d = data_dir("unidiff-test-samples") / "tests" / "samples"
    compared = 0
    for p in sorted(d.glob("*.diff")):
        text = p.read_bytes().decode("utf-8", "replace")
        try:
            theirs = list(unidiff.PatchSet(text))
        except unidiff.UnidiffParseError:
            with pytest.raises(ReviewError, match=r"^line \d+"):
                parse_diff(text)
            compared += 1
            continue
        ours = parse_diff(text)
        assert [(f.added, f.removed) for f in ours] == [(f.added, f.removed) for f in theirs], p.name
        numstat = subprocess.run(["git", "apply", "--numstat", "-z", str(p)], capture_output=True)
        if numstat.returncode == 0 and "diff --git" in text:
            # -z: "added\tremoved\tpath\0", or "added\tremoved\t\0old\0new\0" for a rename
            fields = numstat.stdout.decode("utf-8", "surrogateescape").split("\0")
            names, k = [], 0
            while k < len(fields) - 1:
                head = fields[k].split("\t")
                if head[2]:
                    names.append(head[2])
                    k += 1
                else:
                    names.append(fields[k + 2])
                    k += 3
            assert [f.path for f in ours] == names, p.name
        compared += 1
    assert compared == len(list(d.glob("*.diff")))


def test_mnemonic_and_custom_prefixes_are_read_as_git_apply_reads_them():
    # git diff.mnemonicPrefix writes i/ and w/; git's own am tests (t4252) use them
    d = data_dir("git-test-corpus") / "t" / "t4252"
    (f,) = parse_diff((d / "am-test-3-1").read_text())
    assert f.path == "junk/file-1"
    numstat = subprocess.run(["git", "apply", "--numstat", str(d / "am-test-3-1")], capture_output=True, text=True)
    assert numstat.stdout.split("\t")[2].strip() == f.path


def test_file_diffs_stop_before_the_mail_signature():
    d, rows = euca_rows()
    for r in rows:
        for c in parse_mbox((d / f"{r['name']}.patch").read_bytes()):
            for f in c.files:
                assert "\n-- \n2.39.5" not in f.diff and not f.diff.endswith("-- \n"), (r["name"], f.path)
                if not f.binary:
                    assert f.diff.count("\n@@ ") == f.hunks, (r["name"], f.path)


def _grep_lines(pattern: str, path) -> list[int]:
    """Line numbers ``grep -nE`` finds (the oracle for positions: it shares nothing with labkit)."""
    out = subprocess.run(["grep", "-nE", pattern, str(path)], capture_output=True, text=True).stdout
    return [int(line.split(":", 1)[0]) for line in out.splitlines()]


def test_every_file_position_of_every_real_series_matches_grep():
    d, _ = euca_rows()
    checked = 0
    for path in sorted(d.glob("*.patch")):
        series = parse_mbox(path.read_bytes())
        assert [c.line for c in series] == _grep_lines("^From [0-9a-f]{40} ", path), path.name
        assert [f.line for c in series for f in c.files] == _grep_lines("^diff --git ", path), path.name
        checked += len(series)
    assert checked >= 60


def test_positions_in_git_am_corpus_mails():
    d = data_dir("git-test-corpus") / "t" / "t4252"
    for path in sorted(d.glob("am-test-*")):
        (c,) = parse_mbox(path.read_bytes())
        assert [f.line for f in c.files] == _grep_lines("^diff --git ", path), path.name


def test_a_damaged_hunk_in_a_late_patch_names_its_real_line(tmp_path):
    d, _ = euca_rows()
    data = (d / "branch-15commits-1.6.2-fixes.patch").read_bytes()
    starts = _grep_lines("^From [0-9a-f]{40} ", d / "branch-15commits-1.6.2-fixes.patch")
    lines = data.split(b"\n")
    k = next(i for i in range(starts[11] - 1, len(lines)) if lines[i].startswith(b"@@ "))
    lines[k] = b"@@ -x,y +z @@ DAMAGED"
    damaged = tmp_path / "damaged.patch"
    damaged.write_bytes(b"\n".join(lines))
    with pytest.raises(ReviewError, match="malformed hunk header") as err:
        parse_mbox(damaged.read_bytes())
    assert [err.value.line] == _grep_lines("DAMAGED", damaged)
    assert err.value.line < data.count(b"\n")


def test_crlf_content_is_found_per_file():
    d, _ = euca_rows()
    data = (d / "branch-binary-console-ean.patch").read_bytes()
    sections = re.split(rb"\n(?=diff --git )", data)
    expected = sorted({re.match(rb"diff --git a/(\S+)", s).group(1).decode() for s in sections
                       if s.startswith(b"diff --git") and b"\r\n" in s.split(b"\n-- \n")[0]})
    found = sorted({p for c in parse_mbox(data) for p in c.crlf_files})
    assert found == expected and expected

"""range_diff pairs two revisions the way ``git range-diff`` does (the oracle: real git on the same commits)."""

from __future__ import annotations

import re
import subprocess

import pytest

from labkit.review import parse_mbox, parse_thread
from labkit.review.rangediff import assign, range_diff

from .conftest import git

pytestmark = pytest.mark.integration

_LINE = re.compile(r"^\s*(-|\d+):\s+(?:-+|[0-9a-f]+) ([=!<>])\s+(-|\d+):")


def git_range_diff(repo, old: str, new: str) -> list[tuple[int | None, str, int | None]]:
    """(old n, mark, new n) per line of ``git range-diff``."""
    out = subprocess.run(["git", "-C", str(repo), "range-diff", "--no-color", old, new], capture_output=True,
                         text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        m = _LINE.match(line)
        if m:
            rows.append((None if m.group(1) == "-" else int(m.group(1)), m.group(2),
                         None if m.group(3) == "-" else int(m.group(3))))
    return rows


def ours(repo, old: str, new: str):
    fp = lambda r: subprocess.run(["git", "-C", str(repo), "format-patch", "--stdout", r],  # noqa: E731
                                  capture_output=True, check=True).stdout
    rd = range_diff(parse_mbox(fp(old)), parse_mbox(fp(new)))
    return rd, [(r.old, r.marker, r.new) for r in rd.rows]


def commit(repo, name: str, text: str, msg: str) -> None:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", msg)


@pytest.fixture
def revisions(make_repo):
    """v1 and v2 of a topic: 1 changed, 2 unchanged, 3 rewritten beyond recognition, 4 dropped, 5 added, reordered."""
    repo = make_repo()
    base = [f"line {i}\n" for i in range(40)]
    for f in ("a.py", "b.py", "c.py", "d.py"):
        (repo / f).write_text("".join(base))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "branch", "base")
    git(repo, "checkout", "-q", "-b", "v1")
    commit(repo, "a.py", "".join(base).replace("line 5\n", "line five\n"), "a: five")
    commit(repo, "b.py", "".join(base).replace("line 9\n", "line nine\n"), "b: nine")
    commit(repo, "c.py", "".join(base).replace("line 20\n", "line twenty\n"), "c: twenty")
    commit(repo, "d.py", "".join(base).replace("line 30\n", "line thirty\n"), "d: thirty")
    git(repo, "checkout", "-q", "-b", "v2", "base")
    commit(repo, "b.py", "".join(base).replace("line 9\n", "line nine\n"), "b: nine")  # unchanged, moved first
    commit(repo, "a.py", "".join(base).replace("line 5\n", "line FIVE\n"), "a: five")  # changed
    commit(repo, "c.py", "".join(f"rewritten {i}\n" for i in range(40)), "c: rewrite everything")
    commit(repo, "a.py", "".join(base).replace("line 5\n", "line FIVE\n").replace("line 39\n", "end\n"), "a: end")
    git(repo, "checkout", "-q", "main")
    return repo


def test_pairs_and_marks_match_git_range_diff(revisions):
    expected = git_range_diff(revisions, "base..v1", "base..v2")
    rd, got = ours(revisions, "base..v1", "base..v2")
    assert sorted(got, key=str) == sorted(expected, key=str)
    assert rd.counts() == {"unchanged": 1, "changed": 1, "added": 2, "dropped": 2}
    changed = next(r for r in rd.rows if r.status == "changed")
    assert "-+line five" in changed.diff and "++line FIVE" in changed.diff
    assert next(r for r in rd.rows if r.status == "unchanged").diff == ""


def test_identical_revisions_and_message_only_changes(revisions):
    assert ours(revisions, "base..v1", "base..v1")[1] == git_range_diff(revisions, "base..v1", "base..v1")
    git(revisions, "checkout", "-q", "-b", "v1b", "v1")
    git(revisions, "commit", "-q", "--amend", "-m", "d: thirty (reworded)")
    git(revisions, "checkout", "-q", "main")
    rd, got = ours(revisions, "base..v1", "base..v1b")
    assert got == git_range_diff(revisions, "base..v1", "base..v1b")
    assert rd.rows[-1].status == "changed" and "reworded" in rd.rows[-1].diff


def test_thread_v1_against_v2(revisions):
    v1 = subprocess.run(["git", "-C", str(revisions), "format-patch", "--stdout", "--thread", "--cover-letter",
                         "base..v1"], capture_output=True, check=True).stdout
    v2 = subprocess.run(["git", "-C", str(revisions), "format-patch", "--stdout", "--thread", "--cover-letter", "-v2",
                         "base..v2"], capture_output=True, check=True).stdout
    rd = range_diff(parse_thread(v1), parse_thread(v2))
    assert sorted(((r.old, r.marker, r.new) for r in rd.rows), key=str) == \
        sorted(git_range_diff(revisions, "base..v1", "base..v2"), key=str)
    assert "unchanged" in rd.to_frame()["status"].tolist()


def test_cli_range_diff_of_two_thread_files(revisions, tmp_path, capsys):
    import json

    from labkit.cli import main

    for name, rev, extra in (("v1.mbox", "base..v1", []), ("v2.mbox", "base..v2", ["-v2"])):
        (tmp_path / name).write_bytes(subprocess.run(["git", "-C", str(revisions), "format-patch", "--stdout",
                                                      "--thread", "--cover-letter", *extra, rev],
                                                     capture_output=True, check=True).stdout)
    old, new = str(tmp_path / "v1.mbox"), str(tmp_path / "v2.mbox")
    assert main(["pr", "range-diff", old, new, "--format", "json"]) == 0
    out, err = capsys.readouterr()
    rows = json.loads(out)
    assert sorted(((r["old"], r["new"]) for r in rows), key=str) == \
        sorted(((o, n) for o, _, n in git_range_diff(revisions, "base..v1", "base..v2")), key=str)
    assert "1 unchanged, 1 changed, 2 added, 2 dropped" in err
    assert main(["pr", "range-diff", old, new, "--diff"]) == 0
    text = capsys.readouterr().out
    assert "-+line five" in text and "++line FIVE" in text  # the diff of the changed pair, as git range-diff shows it
    assert main(["pr", "range-diff", old]) == 1
    err = capsys.readouterr().err
    assert err.startswith("labkit: error: range-diff needs two revisions") and err.count("\n") == 1


def test_assignment_is_minimal_on_a_small_matrix():
    # brute force over all permutations is the oracle
    import itertools

    cost = [[4, 1, 3], [2, 0, 5], [3, 2, 2]]
    best = min(itertools.permutations(range(3)), key=lambda p: sum(cost[i][p[i]] for i in range(3)))
    got = assign([row[:] for row in cost])
    assert sum(cost[i][got[i]] for i in range(3)) == sum(cost[i][best[i]] for i in range(3))

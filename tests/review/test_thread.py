"""parse_thread reads list threads like b4: threads made by ``git format-patch --thread --cover-letter`` plus
hand-written replies (trailers, quotes, a reply to a reply), re-sent revisions, a partial re-roll and a garbage hunk.

Oracles: the Message-IDs and subjects are read back with the stdlib ``email`` parser; line numbers with ``grep -n``;
the applied commits with ``git log``.
"""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
import time

import pytest

from labkit.review import ReviewError, apply_series, check_series, parse_mbox, parse_thread

from .conftest import git

pytestmark = pytest.mark.integration


@pytest.fixture
def topic(make_repo):
    """A repo whose branch ``topic`` has three commits touching three different files."""
    repo = make_repo()
    for name in ("a.txt", "b.txt", "c.txt"):
        (repo / name).write_text("".join(f"{name} line {i}\n" for i in range(1, 11)))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "three files")
    git(repo, "checkout", "-q", "-b", "topic")
    for k, name in enumerate(("a.txt", "b.txt", "c.txt"), 1):
        text = (repo / name).read_text().replace("line 5\n", f"line five (change {k})\n")
        (repo / name).write_text(text)
        git(repo, "commit", "-q", "-am", f"Change {name}\n\nWhy {k}.\n\nSigned-off-by: Test Author <author@example.com>")
    git(repo, "checkout", "-q", "main")
    return repo


def fmt(repo, *args: str) -> bytes:
    """git format-patch --stdout with the given options."""
    return subprocess.run(["git", "-C", str(repo), "format-patch", "--stdout", *args], capture_output=True,
                          check=True).stdout


def mails(data: bytes) -> list[email.message.EmailMessage]:
    """The mails of an mbox as the stdlib reads them (to learn Message-IDs and subjects independently)."""
    parts = re.split(rb"(?m)^(?=From [0-9a-f]{40} |From nobody )", data)
    return [email.message_from_bytes(p, policy=email.policy.default) for p in parts if p.strip()]


def reply(to: email.message.EmailMessage, who: str, body: str, msgid: str,
          via: email.message.EmailMessage | None = None) -> bytes:
    """A hand-written reply to ``to`` (through ``via`` when it answers a reply)."""
    parent = via or to
    refs = " ".join(x for x in (str(to.get("References", "")), str(to["Message-ID"]),
                                str(via["Message-ID"]) if via is not None else "") if x)
    return (f"From nobody Mon Sep 17 00:00:00 2001\nFrom: {who}\nSubject: Re: {to['Subject']}\n"
            f"Date: Tue, 2 Jan 2024 10:00:00 +0000\nMessage-ID: <{msgid}>\nIn-Reply-To: {parent['Message-ID']}\n"
            f"References: {refs}\n\n{body}\n").encode()


def test_cover_letter_trailers_from_replies_and_link(topic):
    thread = fmt(topic, "--thread", "--cover-letter", "main..topic")
    cover, p1, p2, p3 = mails(thread)
    assert "0/3" in cover["Subject"]
    r1 = reply(p2, "Rita Reviewer <rita@example.org>",
               "> Why 2.\n> Reviewed-by: Quoted Person <q@example.org>\n\nNice.\n\nReviewed-by: Rita Reviewer "
               "<rita@example.org>\n", "r1@example.org")
    r2 = reply(cover, "Al Acker <al@example.org>", "Series looks fine.\n\nAcked-by: Al Acker <al@example.org>\n",
               "r2@example.org")
    r3 = reply(p3, "Tess Tester <tess@example.org>", "I ran it.\n", "r3@example.org")
    r3b = reply(p3, "Tess Tester <tess@example.org>", "And again, on arm64.\n\n"
                "Tested-by: Tess Tester <tess@example.org>\n-- \nTess\nSigned-off-by: Not A Trailer <x@example.org>\n",
                "r4@example.org", via=mails(r3)[0])
    series = parse_thread(thread + r1 + r2 + r3 + r3b, link=True)
    assert [c.subject for c in series] == ["Change a.txt", "Change b.txt", "Change c.txt"]
    assert series.cover is not None and series.cover.subject == "*** SUBJECT HERE ***"
    assert not series.problems and series.complete
    acked = ("Acked-by", "Al Acker <al@example.org>")
    assert series[0].extra_trailers[:1] == [acked]
    assert ("Reviewed-by", "Rita Reviewer <rita@example.org>") in series[1].extra_trailers
    assert ("Reviewed-by", "Quoted Person <q@example.org>") not in series[1].extra_trailers
    assert ("Tested-by", "Tess Tester <tess@example.org>") in series[2].extra_trailers
    assert not any(k == "Signed-off-by" for k, _ in series[2].extra_trailers)
    assert series[1].extra_trailers[-1] == ("Link", f"https://lore.kernel.org/r/{p2['Message-ID'].strip('<>')}")
    res = apply_series(topic, series, onto="main")
    assert res.status == "applied", res.message
    body = git(topic, "log", "-1", "--format=%B", res.commits[1].sha)
    trailers = body.strip().split("\n\n")[-1].splitlines()
    assert trailers == ["Signed-off-by: Test Author <author@example.com>", "Acked-by: Al Acker <al@example.org>",
                        "Reviewed-by: Rita Reviewer <rita@example.org>",
                        f"Link: https://lore.kernel.org/r/{p2['Message-ID'].strip('<>')}"]
    assert git(topic, "log", "-1", "--format=%an <%ae>|%s", res.commits[1].sha).strip() == \
        "Test Author <author@example.com>|Change b.txt"


def test_cover_letter_without_0_of_n_is_recognised(topic):
    thread = fmt(topic, "--thread", "--cover-letter", "--no-numbered", "main..topic")
    cover = mails(thread)[0]
    assert "0/" not in cover["Subject"] and "[PATCH]" in cover["Subject"]
    thread = thread.replace(b"*** SUBJECT HERE ***", b"Tidy the three files", 1)
    series = parse_thread(thread + reply(cover, "Al Acker <al@example.org>", "Acked-by: Al Acker <al@example.org>",
                                         "r@example.org"))
    assert series.cover is not None and series.cover.subject == "Tidy the three files"
    assert len(series) == 3 and all(("Acked-by", "Al Acker <al@example.org>") in c.extra_trailers for c in series)
    assert len(series.others) == 1  # the reply, not the cover


def test_garbage_hunk_is_reported_not_fatal_and_apply_refuses_a_gap(topic, tmp_path):
    thread = fmt(topic, "--thread", "--cover-letter", "main..topic")
    head, sep, rest = thread.partition(b"Subject: [PATCH 2/3]")
    rest = rest.replace(b"@@ -2,7 +2,7 @@", b"@@ -2,7 +2,7 GARBAGE", 1)
    damaged = head + sep + rest
    path = tmp_path / "thread.mbox"
    path.write_bytes(damaged)
    series = parse_thread(damaged)
    assert [c.subject for c in series] == ["Change a.txt", "Change c.txt"]
    (problem,) = series.problems
    grep = subprocess.run(["grep", "-n", "GARBAGE", str(path)], capture_output=True, text=True).stdout
    assert problem.line == int(grep.split(":")[0]) and "malformed hunk header" in problem.reason
    assert problem.number == 2 and series.missing == [2] and not series.complete
    with pytest.raises(ReviewError, match="malformed hunk header"):
        parse_mbox(damaged)  # a PR's .patch must be whole
    complete = [r for r in check_series(series) if r.check == "complete"]
    assert complete[0].status == "fail" and f"line {problem.line}" in complete[0].detail
    with pytest.raises(ReviewError, match="missing or unreadable") as err:
        apply_series(topic, series, onto="main")
    assert "--partial" in str(err.value)
    res = apply_series(topic, series, onto="main", partial=True)
    assert res.status == "applied" and [c.subject for c in res.commits] == ["Change a.txt", "Change c.txt"]


def test_newest_revision_wins_and_old_trailers_are_not_carried(topic):
    v1 = fmt(topic, "--thread", "--cover-letter", "main..topic")
    v1_mails = mails(v1)
    git(topic, "checkout", "-q", "topic")
    git(topic, "commit", "-q", "--amend", "-m", "Change c.txt better\n\nWhy 3, reworded.")
    git(topic, "checkout", "-q", "main")
    time.sleep(1.1)  # git format-patch makes Message-IDs from the commit and the second: v2 is sent later
    v2 = fmt(topic, "--thread", "--cover-letter", "-v2", f"--in-reply-to={v1_mails[0]['Message-ID']}",
             "main..topic")
    review_v1 = reply(v1_mails[2], "Rita Reviewer <rita@example.org>", "Reviewed-by: Rita Reviewer <rita@example.org>",
                      "rv1@example.org")
    series = parse_thread(v1 + review_v1 + v2)
    assert series.version == 2
    assert [c.subject for c in series] == ["Change a.txt", "Change b.txt", "Change c.txt better"]
    assert all(c.version == 2 for c in series)
    assert any("took v2" in n for n in series.notes)
    assert any("not carried" in n and "rita" in n.lower() for n in series.notes)
    assert not any(c.extra_trailers for c in series)


def test_partial_reroll_takes_the_resent_patch_and_keeps_the_others(topic):
    v1 = fmt(topic, "--thread", "main..topic")
    git(topic, "checkout", "-q", "topic~1")
    git(topic, "commit", "-q", "--amend", "-m", "Change b.txt (v2)")
    v2_commit = git(topic, "rev-parse", "HEAD").strip()
    git(topic, "checkout", "-q", "main")
    one = fmt(topic, "-v2", "-1", "--numbered", "--start-number=2", v2_commit)
    one = re.sub(rb"\[PATCH v2 2/2\]", b"[PATCH v2 2/3]", one)
    series = parse_thread(v1 + one)
    assert [(c.subject, c.version) for c in series] == [("Change a.txt", 1), ("Change b.txt (v2)", 2),
                                                        ("Change c.txt", 1)]
    assert any("patch 1/3 taken from v1" in n for n in series.notes)
    assert any("patch 3/3 taken from v1" in n for n in series.notes)


def test_a_resent_single_patch_is_told_from_the_old_one(topic):
    old = fmt(topic, "-1", "topic~2")
    git(topic, "checkout", "-q", "topic~2")
    git(topic, "commit", "-q", "--amend", "-m", "Change a.txt, v2 wording")
    new_sha = git(topic, "rev-parse", "HEAD").strip()
    git(topic, "checkout", "-q", "main")
    new = fmt(topic, "-1", "-v2", new_sha)
    series = parse_thread(old + new)
    assert [(c.subject, c.version) for c in series] == [("Change a.txt, v2 wording", 2)]
    assert any("v1 replaced" in n for n in series.notes)


def test_parse_mbox_keeps_every_patch_as_git_am_does(topic, tmp_path):
    v1 = fmt(topic, "--thread", "main..topic")
    git(topic, "checkout", "-q", "topic")
    git(topic, "commit", "-q", "--amend", "-m", "Change c.txt again")
    git(topic, "checkout", "-q", "main")
    v2 = fmt(topic, "--thread", "-v2", "main..topic")
    assert [c.subject for c in parse_mbox(v1 + v2)] == ["Change a.txt", "Change b.txt", "Change c.txt"] + [
        "Change a.txt", "Change b.txt", "Change c.txt again"]
    assert len(parse_thread(v1 + v2)) == 3
    (tmp_path / "split").mkdir()
    am = subprocess.run(["git", "mailsplit", f"-o{tmp_path / 'split'}"], input=v1 + v2, capture_output=True)
    assert int(am.stdout.decode().strip()) == 6  # git's own count of the mails git am would apply

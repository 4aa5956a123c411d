"""git's own mailinfo corpus (t/t5100): labkit reads every mail as ``git mailinfo -u`` does."""

from __future__ import annotations

import pytest

from labkit.review.mailinfo import read_mail, split_mbox, to_text

from .conftest import data_dir

pytestmark = pytest.mark.unit

# Cases of t/t5100 that labkit does not claim, with the reason (everything else is compared).
SKIPPED = {
    "quoted-cr msg/patch": "the expected files hold %% placeholders that git's test script rewrites per "
                           "--quoted-cr mode; labkit always normalises CRLF (its info is still compared)",
    "nul-plain": "a mail with NUL bytes and no headers: git's test only checks that mailsplit keeps the NULs",
    "0001mboxrd vs info": "the mboxrd cases have no info file; only their message body is compared",
}


def info_text(mi) -> str:
    """Render a MailInfo like git mailinfo's info output."""
    out = ""
    if mi.has_author:
        out += f"Author: {mi.author}\nEmail: {mi.email}\n"
    if mi.raw_subject or mi.subject:
        out += f"Subject: {mi.subject}\n"
    if mi.date:
        out += f"Date: {mi.date}\n"
    return out + "\n"


def _sample_cases():
    d = data_dir("git-test-corpus") / "t" / "t5100"
    msgs = split_mbox((d / "sample.mbox").read_bytes())
    cases = []
    for i, m in enumerate(msgs, 1):
        name = f"{i:04d}"
        cases.append((name, "", m.data, {}))
        for suffix, opts in (("--scissors", {"scissors": True}),
                             ("--no-inbody-headers", {"inbody_headers": False}),
                             ("--message-id", {})):
            if (d / f"msg{name}{suffix}").exists():
                cases.append((name, suffix, m.data, opts))
    return d, cases


def test_sample_mbox_splits_into_18_mails():
    d = data_dir("git-test-corpus") / "t" / "t5100"
    assert len(split_mbox((d / "sample.mbox").read_bytes())) == 18


def test_every_sample_mail_matches_git_mailinfo():
    d, cases = _sample_cases()
    checked = 0
    for name, suffix, data, opts in cases:
        mi = read_mail(data, **opts)
        msg = mi.msg
        if suffix == "--message-id" and mi.message_id:
            # git mailinfo --message-id appends the header to the message; labkit keeps it as a field
            msg = msg + f"Message-ID: {mi.message_id}\n"
        assert info_text(mi) == (d / f"info{name}{suffix}").read_text(encoding="utf-8"), name + suffix
        assert msg == to_text((d / f"msg{name}{suffix}").read_bytes()), name + suffix
        assert mi.patch == to_text((d / f"patch{name}{suffix}").read_bytes()), name + suffix
        checked += 1
    assert checked == 23  # 18 mails + 5 option variants


def test_rfc2047_samples_decode_like_git():
    d = data_dir("git-test-corpus") / "t" / "t5100"
    msgs = split_mbox((d / "rfc2047-samples.mbox").read_bytes())
    assert len(msgs) == 11
    for i, m in enumerate(msgs, 1):
        mi = read_mail(m.data)
        assert info_text(mi) == (d / f"rfc2047-info-{i:04d}").read_text(encoding="utf-8"), i
        assert mi.msg == "" and mi.patch == ""


@pytest.mark.parametrize("case", ["comment", "quoted-string", "info-from", "embed-from"])
def test_from_header_variants(case):
    d = data_dir("git-test-corpus") / "t" / "t5100"
    (m,) = split_mbox((d / f"{case}.in").read_bytes())
    assert info_text(read_mail(m.data)) == (d / f"{case}.expect").read_text(encoding="utf-8")


def test_quoted_from_is_kept_in_the_body():
    d = data_dir("git-test-corpus") / "t" / "t5100"
    (m,) = split_mbox((d / "quoted-from.in").read_bytes())
    assert read_mail(m.data).msg == (d / "quoted-from.expect").read_text()


def test_mboxrd_unescapes_from_lines():
    d = data_dir("git-test-corpus") / "t" / "t5100"
    msgs = split_mbox((d / "sample.mboxrd").read_bytes(), mboxrd=True)
    assert len(msgs) == 2
    for i, m in enumerate(msgs, 1):
        assert read_mail(m.data).msg == (d / f"{i:04d}mboxrd").read_text()


def test_base64_body_with_nul_bytes_keeps_the_patch():
    d = data_dir("git-test-corpus") / "t" / "t5100"
    (m,) = split_mbox((d / "nul-b64.in").read_bytes())
    assert read_mail(m.data).patch == to_text((d / "nul-b64.expect").read_bytes())


def test_quoted_cr_info():
    d = data_dir("git-test-corpus") / "t" / "t5100"
    msgs = split_mbox((d / "quoted-cr.mbox").read_bytes())
    assert len(msgs) == 2
    for m in msgs:
        assert info_text(read_mail(m.data)) == (d / "quoted-cr-info").read_text()


def test_skipped_cases_are_listed_with_reasons():
    assert all(reason for reason in SKIPPED.values())


def test_git_apply_stat_corpus_counts():
    """t/t4100: files, insertions, deletions and rename similarities match ``git apply --stat --summary``."""
    import re

    from labkit.review.mbox import parse_diff

    d = data_dir("git-test-corpus") / "t" / "t4100"
    patches = sorted(d.glob("t-apply-*.patch"))
    assert len(patches) == 9
    for p in patches:
        expect = (d / p.name.replace(".patch", ".expect")).read_text()
        files = parse_diff(to_text(p.read_bytes()))
        per_file = {m.group(1).strip(): int(m.group(2)) for m in re.finditer(r"^ (.+?)\s+\|\s+(\d+)", expect, re.M)}
        total = re.search(r"(\d+) files? changed(?:, (\d+) insertions?\(\+\))?(?:, (\d+) deletions?\(-\))?", expect)
        assert total, p.name
        assert len(files) == int(total.group(1)), p.name
        assert sum(f.added for f in files) == int(total.group(2) or 0), p.name
        assert sum(f.removed for f in files) == int(total.group(3) or 0), p.name
        assert sorted(f.added + f.removed for f in files) == sorted(per_file.values()), p.name
        sims = sorted(int(s) for s in re.findall(r"^ (?:rename|copy) .+\((\d+)%\)$", expect, re.M))
        assert sorted(f.similarity for f in files if f.status in ("renamed", "copied")) == sims, p.name

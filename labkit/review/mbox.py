"""Read an mbox into a patch series: ``parse_mbox`` (a PR's ``.patch``, strict) and ``parse_thread`` (a list thread).

    from labkit.review import parse_mbox, parse_thread
    series = parse_mbox(open("pr.patch", "rb").read())     # any damaged mail: ReviewError naming its line
    thread = parse_thread(open("thread.mbox", "rb").read(), link=True)
    thread.commits, thread.problems, thread.notes           # readable patches, unreadable mails, decisions

``parse_thread`` reads a mailing-list thread the way b4 does: it keeps every readable patch and
reports each unreadable mail (line, reason) instead of refusing the thread; it recognises the
cover letter with or without ``0/N`` (a ``[PATCH]`` mail the patches answer); it collects
``Reviewed-by``/``Acked-by``/``Tested-by`` (any ``*-by`` with an address) and ``Fixes:`` given in
replies onto the patch they answer, or onto every patch when they answer the cover letter
(In-Reply-To, then References); it takes the newest revision of each patch when a series is
re-sent (vN, or a partial re-roll that re-sends only some patches) and says so in ``notes``;
and it adds a ``Link:`` trailer per patch when asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from labkit.review.diff import FileChange, c_unquote, parse_diff
from labkit.review.errors import ReviewError
from labkit.review.mailinfo import MailInfo, RawMessage, message_ids, read_mail, split_mbox
from labkit.review.series import Commit, MailProblem, PatchSeries, add_trailers, parse_trailers, stripspace

__all__ = ["Commit", "FileChange", "MailProblem", "PatchSeries", "add_trailers", "c_unquote", "parse_diff",
           "parse_mbox", "parse_thread", "parse_trailers", "stripspace", "subject_tag"]

_PATCH_TAG = re.compile(r"\[[^\]]*?PATCH[^\]]*\]", re.I)
_TAG_NUM = re.compile(r"\b(\d+)/(\d+)\b")
_TAG_VERSION = re.compile(r"\bv(\d+)\b", re.I)
_REPLY = re.compile(r"^\s*(re|aw|sv|antw)\s*:", re.I)
# Trailers a reviewer gives in a reply: a person's *-by with an address, or a Fixes: line.
_REPLY_TRAILER = re.compile(r"^([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*-by|Fixes)\s*:\s*(\S.*?)\s*$")
LINK_TEMPLATE = "https://lore.kernel.org/r/{msgid}"


@dataclass
class SubjectTag:
    """What a subject's ``[PATCH vN n/m]`` tag says."""

    patch: bool  # the subject carries a [...PATCH...] tag
    reply: bool  # the subject starts with Re:
    number: int | None
    total: int | None
    version: int


def subject_tag(raw_subject: str) -> SubjectTag:
    """Read the ``[PATCH vN n/m]`` tag of a subject (version 1 when it names none)."""
    tag = _PATCH_TAG.search(raw_subject or "")
    number = total = None
    version = 1
    if tag:
        m = _TAG_NUM.search(tag.group(0))
        if m:
            number, total = int(m.group(1)), int(m.group(2))
        v = _TAG_VERSION.search(tag.group(0))
        if v:
            version = int(v.group(1))
    return SubjectTag(bool(tag), bool(_REPLY.match(raw_subject or "")), number, total, version)


@dataclass
class _Mail:
    """One mail of the input while the thread is being read."""

    raw: RawMessage
    info: MailInfo
    tag: SubjectTag
    kind: str  # patch | broken | cover | reply
    commit: Commit | None = None
    problem: MailProblem | None = None

    @property
    def msgid(self) -> str:
        """The mail's Message-ID as ``<id>`` ('' when it has none)."""
        ids = message_ids(self.info.message_id)
        return ids[0] if ids else ""

    @property
    def parents(self) -> list[str]:
        """The ids this mail answers, nearest first (In-Reply-To, then References from the end)."""
        out = [self.info.in_reply_to] if self.info.in_reply_to else []
        out += [r for r in reversed(self.info.references) if r not in out]
        return out


def _has_diff(info: MailInfo) -> bool:
    """Tell whether a mail's patch part holds a diff (not only a diffstat)."""
    text = "\n" + info.patch
    return "\ndiff " in text or "\n--- " in text or "\nIndex: " in text


def _commit_from(info: MailInfo, raw: RawMessage, tag: SubjectTag) -> Commit:
    """Build a Commit from a parsed mail (ReviewError naming the line when it cannot be applied)."""
    files = parse_diff(info.patch, first_line=info.patch_line or raw.line, exact_lines=info.exact_lines)
    if not info.email:
        raise ReviewError(f"line {raw.line}: the mail has no author (From: header)",
                          hint="git am needs an author: use git format-patch output", line=raw.line)
    ids = message_ids(info.message_id)
    return Commit(index=0, author=info.author, email=info.email, date=info.date, subject=info.subject,
                  message=info.msg, files=files, patch=info.patch, trailers=parse_trailers(info.msg),
                  number=tag.number, total=tag.total, version=tag.version if tag.patch else None,
                  message_id=ids[0] if ids else info.message_id, raw=raw.data, line=raw.line,
                  raw_subject=info.raw_subject, in_reply_to=info.in_reply_to, references=list(info.references),
                  cr_encoded=info.cr_encoded)


def _read(raw: RawMessage) -> _Mail:
    """Read one mail and say what it is: a patch, a damaged patch, or a mail without a diff."""
    info = read_mail(raw.data, start_line=raw.line)
    tag = subject_tag(info.raw_subject)
    if not _has_diff(info):
        return _Mail(raw, info, tag, "reply")
    try:
        return _Mail(raw, info, tag, "patch", commit=_commit_from(info, raw, tag))
    except ReviewError as exc:
        reason = exc.message
        prefix = f"line {exc.line}: "
        if reason.startswith(prefix):
            reason = reason[len(prefix):]
        problem = MailProblem(exc.line or raw.line, reason, info.subject, tag.number, tag.version, exc.hint or "")
        return _Mail(raw, info, tag, "broken", problem=problem)


def _find_covers(mails: list[_Mail]) -> None:
    """Mark the cover letters: ``[PATCH 0/N]``, or a ``[PATCH]`` mail (not a Re:) that the patches answer."""
    answered: set[str] = set()
    for m in mails:
        if m.kind in ("patch", "broken"):
            answered.update(m.parents)
    for m in mails:
        if m.kind != "reply" or not m.tag.patch or m.tag.reply:
            continue
        if m.tag.number == 0 or (m.msgid and m.msgid in answered):
            m.kind = "cover"


def _choose(mails: list[_Mail], series: PatchSeries) -> list[_Mail]:
    """Pick the newest revision of each patch; fill a partial re-roll from the revision before; say so."""
    patches = [m for m in mails if m.kind in ("patch", "broken")]
    if not patches:
        return []
    versions = sorted({m.tag.version for m in patches})
    newest = versions[-1]
    series.version = newest if any(m.tag.patch for m in patches) else None
    numbered = [m for m in patches if m.tag.number]
    if not numbered:  # unnumbered patches: a whole series per revision, keep the newest one's in order
        chosen = [m for m in patches if m.tag.version == newest]
        if len(versions) > 1:
            series.notes.append(f"took v{newest} ({len(chosen)} patches); "
                                f"v{', v'.join(map(str, versions[:-1]))} replaced")
        return chosen
    by_key: dict[tuple[int, int], _Mail] = {}
    for m in numbered:
        key = (m.tag.version, m.tag.number or 0)
        if key in by_key:
            series.notes.append(f"v{key[0]} {key[1]}/{m.tag.total} was sent twice: took the later mail "
                                f"(line {m.raw.line}) over line {by_key[key].raw.line}")
        by_key[key] = m
    total = max(m.tag.total or 0 for m in numbered if m.tag.version == newest)
    if total == 0:
        total = max(m.tag.total or 0 for m in numbered)
    chosen: list[_Mail] = []
    for n in range(1, total + 1):
        pick = by_key.get((newest, n))
        if pick is None:  # partial re-roll: the newest older revision of the same length that has it
            for v in reversed(versions[:-1]):
                older = by_key.get((v, n))
                if older is not None and older.tag.total == total:
                    pick = older
                    series.notes.append(f"patch {n}/{total} taken from v{v}: v{newest} did not re-send it")
                    break
        if pick is None:
            series.missing.append(n)
            continue
        chosen.append(pick)
        if pick.kind == "broken":
            series.missing.append(n)
    if len(versions) > 1:
        taken = sum(1 for m in chosen if m.tag.version == newest)
        series.notes.insert(0, f"took v{newest} of the series ({taken} of {total} patches re-sent); "
                               f"older revisions: v{', v'.join(map(str, versions[:-1]))}")
    chosen += [m for m in patches if not m.tag.number and m.tag.version == newest]
    return chosen


def reply_trailers(info: MailInfo) -> list[tuple[str, str]]:
    """Return the trailers a reply gives: ``*-by: Name <addr>`` and ``Fixes:`` lines outside quotes."""
    found: list[tuple[str, str]] = []
    for line in info.msg.split("\n"):
        if line == "-- ":  # the signature: nothing below counts
            break
        if line.startswith(">"):
            continue
        m = _REPLY_TRAILER.match(line)
        if m and (m.group(1).lower() == "fixes" or re.search(r"<[^<>\s]+@[^<>\s]+>", m.group(2))):
            found.append((m.group(1), m.group(2)))
    return found


def _collect_trailers(mails: list[_Mail], chosen: list[_Mail], series: PatchSeries) -> None:
    """Put trailers given in replies onto the patch (or, via the cover letter, every patch) they answer."""
    by_id = {m.msgid: m for m in mails if m.msgid}
    chosen_ids = {id(m) for m in chosen}
    found = []
    for reply in mails:
        trailers = reply_trailers(reply.info) if reply.kind == "reply" else []
        if trailers:
            target = next((by_id[p] for p in reply.parents if p in by_id and by_id[p].kind != "reply"), None)
            found.append((reply, trailers, target))
    found.sort(key=lambda f: f[2] is None or f[2].kind != "cover")  # series-wide trailers first, as b4 writes them
    for reply, trailers, target in found:
        who = reply.info.author or reply.info.email
        names = ", ".join(k for k, _ in trailers)
        if target is None:
            series.notes.append(f"{names} from {who} (line {reply.raw.line}) answers no patch of this thread: "
                                "not used")
            continue
        if target.kind == "cover":
            on = [m for m in chosen if m.commit is not None and m.tag.version == target.tag.version]
            if not on:
                series.notes.append(f"{names} from {who} answers the v{target.tag.version} cover letter: "
                                    "not carried to the re-sent patches")
            for m in on:
                m.commit.extra_trailers.extend(trailers)  # type: ignore[union-attr]
            continue
        if id(target) in chosen_ids and target.commit is not None:
            target.commit.extra_trailers.extend(trailers)
        else:
            series.notes.append(f"{names} from {who} answers v{target.tag.version} "
                                f"{target.tag.number or ''}/{target.tag.total or ''} ({target.info.subject}), "
                                "which was re-sent: not carried to the new revision")


def parse_thread(data: bytes | str, *, source: str = "", mboxrd: bool = False, link: bool | str = False,
                 trailers: bool = True) -> PatchSeries:
    """Read a thread (or any mbox) into the newest complete series it holds, b4-style.

    Unreadable mails become ``problems`` (line, reason) and their numbers ``missing``; decisions
    (revision taken, partial re-roll, trailers not carried) are in ``notes``. ``trailers=False``
    leaves replies' trailers out; ``link=True`` adds ``Link: https://lore.kernel.org/r/<msgid>`` to
    each patch, and a string template with ``{msgid}`` names another archive. Raises
    :class:`ReviewError` only when the input holds no readable patch at all.
    """
    return _parse(data, source=source, mboxrd=mboxrd, link=link, trailers=trailers, thread=True)


def _parse(data: bytes | str, *, source: str, mboxrd: bool, link: bool | str, trailers: bool,
           thread: bool) -> PatchSeries:
    """Read the mails; with ``thread`` pick revisions and collect trailers (b4), else keep every patch (git am)."""
    if isinstance(data, str):
        data = data.encode("utf-8", errors="surrogateescape")
    if not data.strip():
        raise ReviewError("the input is empty: no patch to read",
                          hint="pass the text of a .patch file or an mbox", line=1)
    mails = [_read(raw) for raw in split_mbox(data, mboxrd=mboxrd)]
    series = PatchSeries(source=source)
    _find_covers(mails)
    chosen = _choose(mails, series) if thread else [m for m in mails if m.kind in ("patch", "broken")]
    series.problems = [m.problem for m in mails if m.problem is not None]
    if trailers and thread:
        _collect_trailers(mails, chosen, series)
    covers = [m for m in mails if m.kind == "cover"]
    if covers:
        newest = [m for m in covers if m.tag.version == (series.version or 1)] or covers
        series.cover = newest[-1].info
    series.others = [m.info for m in mails if m.kind == "reply"]
    for m in chosen:
        if m.commit is None:
            continue
        m.commit.index = len(series.commits) + 1
        if link and m.commit.message_id:
            template = link if isinstance(link, str) else LINK_TEMPLATE
            m.commit.extra_trailers.append(("Link", template.format(msgid=m.commit.message_id.strip("<>"))))
        series.commits.append(m.commit)
    if not series.commits:
        if series.problems:
            p = series.problems[0]
            raise ReviewError(f"line {p.line}: {p.reason}", hint="no readable patch in the input: fetch it again",
                              line=p.line)
        first = mails[0].raw.line if mails else 1
        raise ReviewError(f"line {first}: no patch found in {source or 'the input'}",
                          hint="expected git format-patch output (From <sha> ..., headers, ---, diff --git)",
                          line=first)
    return series


def parse_mbox(data: bytes | str, *, source: str = "", mboxrd: bool = False) -> PatchSeries:
    """Parse an mbox (format-patch output, a GitHub ``.patch``) into what ``git am`` would apply: every patch, in order.

    The mails are read as by :func:`parse_thread` (cover letter, others) but no revision is picked
    and no reply's trailer collected; the first unreadable patch raises :class:`ReviewError`
    naming its line, so a damaged ``.patch`` is never half-read.
    """
    series = _parse(data, source=source, mboxrd=mboxrd, link=False, trailers=False, thread=False)
    if series.problems:
        p = series.problems[0]
        raise ReviewError(f"line {p.line}: {p.reason}",
                          hint=p.hint or "the patch is damaged: fetch it again", line=p.line)
    return series

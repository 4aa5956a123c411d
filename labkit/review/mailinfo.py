"""Mail-level parsing of patch e-mails the way ``git mailsplit`` and ``git mailinfo`` read them.

``split_mbox`` cuts an mbox into messages; ``read_mail`` turns one message into author, e-mail,
subject, date, the commit message (``msg``) and the patch text, following git's own rules
(RFC 2047 headers, in-body ``From:``/``Subject:``/``Date:``, ``---`` and ``diff -`` breaks,
quoted-printable and base64 parts, multipart bodies, scissors lines when asked).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
from dataclasses import dataclass, field

_FROM_LINE = re.compile(rb"^From [^\n]*\n?", re.M)
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_HEADER_NAME = re.compile(r"^([!-9;-~]+):")  # RFC 2822 field name: printable, no colon
_INBODY = ("From", "Subject", "Date")
_FORMAT_PATCH_SEP = re.compile(r"^From [0-9a-f]{40} Mon Sep 17 00:00:00 2001$")
_SPACE = " \t\n\r\v\f"
_YEAR = re.compile(rb"\s*(\d+)")
_RUNS_OF_SPACE = re.compile(r"[ \t\n\r\v\f]+")
_PARAM = re.compile(r';\s*([A-Za-z0-9_*.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')
_MSG_ID = re.compile(r"<[^<>\s]+>")


@dataclass
class RawMessage:
    """One message of an mbox: its bytes and the 1-based line where it starts."""

    data: bytes
    line: int


@dataclass
class MailInfo:
    """What ``git mailinfo`` extracts from one message (the ``info``, ``msg`` and ``patch`` outputs)."""

    author: str = ""
    email: str = ""
    subject: str = ""
    raw_subject: str = ""
    date: str = ""
    msg: str = ""
    patch: str = ""
    message_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    has_author: bool = False
    patch_line: int = 0  # line of the input where the patch starts (1-based, counted from start_line; 0: no patch)
    exact_lines: bool = True  # False when the body was transfer-encoded (line numbers approximate)
    cr_lines: int = 0  # patch lines that end in CR LF (kept in ``patch``; git am strips raw ones by default)
    cr_encoded: bool = False  # those CRs came out of a base64/quoted-printable body (git's --quoted-cr case)
    in_reply_to: str = ""  # the Message-ID this mail answers (first of In-Reply-To)
    references: list[str] = field(default_factory=list)  # the References chain, oldest first


def is_from_line(line: bytes) -> bool:
    """Tell whether an mbox line starts a new message (git mailsplit's test: ``From `` + a time + a year)."""
    line = line.rstrip(b"\n")
    if len(line) < 20 - 1 or not line.startswith(b"From "):
        return False
    colon = line.rfind(b":", 5, len(line) - 1 if line.endswith(b"\r") else len(line))
    if colon < 9 or colon + 3 > len(line):
        return False
    try:
        ok = all(chr(line[i]).isdigit() for i in (colon - 4, colon - 2, colon - 1, colon + 1, colon + 2))
    except IndexError:
        return False
    if not ok:
        return False
    m = _YEAR.match(line[colon + 3:])
    return bool(m) and int(m.group(1)) > 90


def split_mbox(data: bytes, *, mboxrd: bool = False) -> list[RawMessage]:
    """Cut an mbox into messages on ``From `` lines (a lone mail or diff without one is one message).

    With ``mboxrd=True`` the ``>From`` quoting of mboxrd files is undone (``>>From`` -> ``>From``).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    stripped = data.lstrip()
    skipped = data[: len(data) - len(stripped)].count(b"\n")
    starts = [m.start() for m in _FROM_LINE.finditer(stripped) if is_from_line(m.group(0))]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    messages: list[RawMessage] = []
    line = 1 + skipped
    prev = 0
    for i, start in enumerate(starts):
        if i:
            line += stripped.count(b"\n", prev, start)
        end = starts[i + 1] if i + 1 < len(starts) else len(stripped)
        chunk = stripped[start:end]
        if mboxrd:
            chunk = re.sub(rb"(?m)^>(>*From )", rb"\1", chunk)
        if chunk.strip():
            messages.append(RawMessage(chunk, line))
        prev = start
    return messages


def _charset_codec(charset: str) -> str:
    """Return the Python codec for a MIME charset (utf-8 when unknown or plain ASCII)."""
    cs = (charset or "").strip().strip('"').lower().split("*", 1)[0]
    if not cs or cs in ("us-ascii", "ascii", "unknown-8bit", "x-unknown"):
        return "utf-8"
    try:
        return codecs.lookup(cs).name
    except LookupError:
        return "utf-8"


def to_text(data: bytes, charset: str = "") -> str:
    """Decode bytes in a declared charset (default UTF-8, Latin-1 as the fallback git also assumes)."""
    codec = _charset_codec(charset)
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        if codec == "utf-8":
            return data.decode("latin-1")
        return data.decode(codec, errors="replace")


def _q_decode(text: str) -> bytes:
    """Decode the Q encoding of an RFC 2047 encoded word to bytes."""
    raw = text.replace("_", " ").encode("latin-1", errors="replace")
    return quopri.decodestring(raw, header=True)


def decode_header(value: str) -> str:
    """Decode RFC 2047 encoded words; blanks between two encoded words disappear (as in git)."""
    if "=?" not in value:
        return value
    out: list[str] = []
    pos = 0
    last_was_word = False
    for m in _ENCODED_WORD.finditer(value):
        gap = value[pos:m.start()]
        if not (last_was_word and gap.strip(_SPACE) == ""):
            out.append(gap)
        charset, enc, text = m.group(1), m.group(2).lower(), m.group(3)
        try:
            if enc == "b":
                raw = base64.b64decode(text + "=" * (-len(text) % 4))
            else:
                raw = _q_decode(text)
        except (binascii.Error, ValueError):
            out.append(m.group(0))
            last_was_word = False
        else:
            out.append(to_text(raw, charset))
            last_was_word = True
        pos = m.end()
    out.append(value[pos:])
    return "".join(out)


def cleanup_space(value: str) -> str:
    """Squash each run of whitespace to one space (git's cleanup_space)."""
    return _RUNS_OF_SPACE.sub(" ", value)


def cleanup_subject(subject: str) -> str:
    """Drop leading ``Re:``, ``[PATCH ...]`` tags, blanks and colons from a subject (git's rules)."""
    s = subject
    while s:
        c = s[0]
        if c in "rR":
            if len(s) <= 3:
                break
            if s[1] in "eE" and s[2] == ":":
                s = s[3:]
                continue
            break
        if c in " \t:":
            s = s[1:]
            continue
        if c == "[":
            end = s.find("]")
            if end < 0:
                break
            s = s[end + 1:]
            continue
        break
    return s.strip(_SPACE)


def _unquote_quoted_pair(value: str) -> str:
    """Remove RFC 2822 quoting: quoted strings lose their quotes, comments keep parens but not backslashes."""
    if '"' not in value and "(" not in value:
        return value
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if c == '"':
            i += 1
            while i < n:
                c = value[i]
                if c == "\\" and i + 1 < n:
                    out.append(value[i + 1])
                    i += 2
                    continue
                if c == '"':
                    i += 1
                    break
                out.append(c)
                i += 1
            continue
        if c == "(":
            out.append(c)
            depth = 1
            i += 1
            while i < n and depth:
                c = value[i]
                if c == "\\" and i + 1 < n:
                    out.append(value[i + 1])
                    i += 2
                    continue
                if c == "(":
                    depth += 1
                elif c == ")":
                    depth -= 1
                out.append(c)
                i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _sane_name(name: str, email: str) -> str:
    """Return the author name, or the email when the name is empty or unusable (as git does)."""
    if not name or len(name) > 60 or any(ch in name for ch in "@<>"):
        return email
    return name


def parse_from(value: str, current_email: str = "") -> tuple[str, str] | None:
    """Split a From value into (name, e-mail) following git mailinfo (comments kept, quotes dropped)."""
    f = _unquote_quoted_pair(cleanup_space(value))
    at = f.find("@")
    if at < 0:
        bra = f.find("<")
        ket = f.find(">", bra + 1) if bra >= 0 else -1
        if bra < 0 or ket < 0:
            return None
        email = f[bra + 1:ket]
        return _sane_name(f[:bra].strip(_SPACE), email), email
    if current_email and "@" in f[at + 1:]:
        return None
    start = at
    while start > 0:
        c = f[start - 1]
        if c in _SPACE:
            break
        if c == "<":
            f = f[: start - 1] + " " + f[start:]
            break
        start -= 1
    end = start
    while end < len(f) and f[end] not in " \n\t\r\v\f>":
        end += 1
    email = f[start:end]
    f = f[:start] + f[end + 1:] if end < len(f) else f[:start]
    name = cleanup_space(f).strip(_SPACE)
    if name.startswith("(") and name.endswith(")"):
        name = name[1:-1]
    return _sane_name(name, email), email


def is_scissors_line(line: str) -> bool:
    """Tell whether a line is a ``-- >8 --`` cut mark (git's perforation rules)."""
    scissors = gap = perforation = 0
    in_perf = False
    first = last = -1
    i = 0
    while i < len(line):
        c = line[i]
        if c in _SPACE:
            if in_perf:
                perforation += 1
                gap += 1
            i += 1
            continue
        last = i
        if first < 0:
            first = i
        if c == "-":
            in_perf = True
            perforation += 1
            i += 1
            continue
        if line.startswith((">8", "8<", ">%", "%<"), i):
            in_perf = True
            perforation += 2
            scissors += 2
            last = i + 1
            i += 2
            continue
        in_perf = False
        i += 1
    visible = last - first + 1 if first >= 0 else 0
    return bool(scissors) and 8 <= visible < perforation * 3 and gap * 2 < perforation


def is_patch_break(line: str) -> bool:
    """Tell whether a body line starts the patch (``diff -``, ``Index: ``, ``--- file`` or a ``---`` line)."""
    if line.startswith(("diff -", "Index: ")):
        return True
    if len(line) < 4 or not line.startswith("---"):
        return False
    if line[3] == " " and line[4] not in _SPACE:
        return True
    for c in line[3:]:
        if c == "\n":
            return True
        if c not in _SPACE:
            return False
    return False


def _split_header_block(data: bytes) -> tuple[list[str], bytes, int]:
    """Return unfolded header lines (first ``From `` line dropped), the body and the body's line offset."""
    lines = data.split(b"\n")
    idx = 0
    if lines and is_from_line(lines[0] + b"\n"):
        idx = 1
    headers: list[str] = []
    n = len(lines)
    while idx < n:
        raw = lines[idx].rstrip(b"\r")
        if not raw.strip():
            idx += 1
            break
        text = to_text(raw)
        if text[0] in " \t" and headers:
            headers[-1] += " " + text[1:].rstrip(_SPACE)
        elif _HEADER_NAME.match(text) or text.startswith(">From "):
            headers.append(text.rstrip("\r\n"))
        else:  # not a header: the body starts here (git stops reading headers too)
            break
        idx += 1
    body = b"\n".join(lines[idx:])
    return headers, body, idx


def _header_value(line: str, name: str) -> str | None:
    """Return the value of header ``name`` if ``line`` is that header, else None."""
    if len(line) > len(name) and line[len(name)] == ":" and line[: len(name)].lower() == name.lower():
        return line[len(name) + 1:].lstrip(_SPACE)
    return None


def _content_params(value: str) -> dict[str, str]:
    """Return the parameters (charset, boundary...) of a Content-Type value."""
    params: dict[str, str] = {}
    for m in _PARAM.finditer(value):
        v = m.group(2)
        if v.startswith('"'):
            v = v[1:-1]
        params[m.group(1).lower()] = v
    return params


def _transfer_decode(body: bytes, encoding: str) -> bytes:
    """Undo a Content-Transfer-Encoding (base64, quoted-printable) of a body."""
    enc = encoding.strip().lower()
    if enc == "base64":
        try:
            return base64.b64decode(re.sub(rb"[^A-Za-z0-9+/=]", b"", body) + b"==", validate=False)
        except (binascii.Error, ValueError):
            return body
    if enc == "quoted-printable":
        return quopri.decodestring(body)
    return body


class _Collector:
    """Feeds body lines through git mailinfo's two stages: commit message, then patch."""

    def __init__(self, info: MailInfo, *, inbody: bool, scissors: bool) -> None:
        """Start collecting a message's body into ``info``."""
        self.info = info
        self.use_inbody = inbody
        self.scissors = scissors
        self.header_stage = True
        self.accum = ""
        self.inbody: dict[str, str] = {}
        self.msg: list[str] = []
        self.patch_parts: list[str] = []
        self.in_patch = False

    def _flush_accum(self) -> None:
        """Apply a folded in-body header line once it is complete."""
        if not self.accum:
            return
        line = self.accum
        self.accum = ""
        for name in _INBODY:
            v = _header_value(line, name)
            if v is not None and name not in self.inbody:
                self.inbody[name] = decode_header(v)
                return

    def _check_inbody(self, line: str) -> bool:
        """Take in-body headers (From:, Date:, Subject:) at the top of the body; tell whether the line was one."""
        if self.accum and line[:1] in (" ", "\t"):
            if self.scissors and is_scissors_line(line):
                self._flush_accum()
                return False
            self.accum = self.accum.rstrip("\n") + line
            return True
        self._flush_accum()
        if line.startswith(">From") and line[5:6] in (" ", "\t", "\n"):
            return bool(_FORMAT_PATCH_SEP.match(line[1:].rstrip("\n")))
        if line.startswith("[PATCH]") and line[7:8] in (" ", "\t", "\n"):
            if "Subject" not in self.inbody:
                self.inbody["Subject"] = line.rstrip("\n")
            return True
        for name in _INBODY:
            if name not in self.inbody and _header_value(line.rstrip("\n"), name) is not None:
                self.accum += line
                return True
        return False

    def feed(self, lines: list[str], first_line: int, exact: bool, encoded: bool = False) -> None:
        """Take decoded body lines (each ending in a newline except maybe the last).

        The message is read with CR LF taken as LF (what ``git am`` commits); the patch keeps its
        CRs, so the line-ending rule (:mod:`labkit.review.lineends`) can see them.
        """
        for i, raw in enumerate(lines):
            if self.in_patch:
                self.patch_parts.append("".join(lines[i:]))
                return
            line = raw[:-2] + "\n" if raw.endswith("\r\n") else raw
            if self.header_stage and (line == "" or line == "\n"):
                if self.accum:
                    self._flush_accum()
                    self.header_stage = False
                continue
            if self.use_inbody and self.header_stage:
                self.header_stage = self._check_inbody(line)
                if self.header_stage:
                    continue
            else:
                self.header_stage = False
            if self.scissors and is_scissors_line(line):
                self.msg = []
                self.header_stage = True
                self.inbody = {}
                continue
            if is_patch_break(line if line.endswith("\n") else line + "\n"):
                self.in_patch = True
                self.info.patch_line = first_line + i
                self.info.exact_lines = exact
                self.info.cr_encoded = encoded
                self.patch_parts.append("".join(lines[i:]))
                return
            self.msg.append(line)


def _iter_parts(body: bytes, boundary: str, first_line: int):
    """Yield (part headers, part body, first line) of a multipart body, one level."""
    marker = b"--" + boundary.encode("latin-1", errors="replace")
    lines = body.split(b"\n")
    current: list[bytes] | None = None
    start = 0
    for i, raw in enumerate(lines):
        line = raw.rstrip(b"\r")
        if line.startswith(marker):
            if current is not None:
                yield current, start
            if line[len(marker):].startswith(b"--"):
                yield None, -1  # the end boundary
                return
            current = []
            start = first_line + i + 1
            continue
        if current is not None:
            current.append(raw)
    if current is not None:
        yield current, start


def _body_lines(text: str) -> list[str]:
    """Split text into lines that keep their newline (the last one may have none)."""
    lines = text.split("\n")
    out = [ln + "\n" for ln in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def _feed_part(col: _Collector, headers: list[str], body: bytes, first_line: int, depth: int = 0) -> None:
    """Feed one MIME part to the collector, descending into multipart bodies."""
    ctype = cte = ""
    for h in headers:
        v = _header_value(h, "Content-Type")
        if v is not None and not ctype:
            ctype = v
        v = _header_value(h, "Content-Transfer-Encoding")
        if v is not None and not cte:
            cte = v
    params = _content_params(ctype)
    if ctype.lower().startswith("multipart/") and params.get("boundary") and depth < 8:
        for part_lines, start in _iter_parts(body, params["boundary"], first_line):
            if part_lines is None:  # git feeds one newline at the end boundary
                col.feed(["\n"], first_line, False)
                break
            ph, pbody, off = _split_header_block(b"\n".join(part_lines) + b"\n")
            _feed_part(col, ph, pbody, start + off, depth + 1)
        return
    decoded = _transfer_decode(body, cte)
    exact = decoded is body
    if not exact and cte.strip().lower() == "quoted-printable":
        # Quoted-printable keeps lines; soft breaks make numbers drift a little.
        exact = b"=\n" not in body
    text = to_text(decoded, params.get("charset", ""))
    col.feed(_body_lines(text), first_line, exact, encoded=cte.strip().lower() in ("base64", "quoted-printable"))


def read_mail(data: bytes, *, start_line: int = 1, inbody_headers: bool = True,
              scissors: bool = False) -> MailInfo:
    """Read one message like ``git mailinfo -u``: author, e-mail, subject, date, message and patch.

    ``start_line`` is the line of the input where the message starts; ``patch_line`` (and every
    line number derived from it) is counted from there, so it is a line of the whole input.
    CR LF line ends are read as LF everywhere except in ``patch``, which keeps them.
    """
    headers, body, body_offset = _split_header_block(data)
    info = MailInfo()
    top: dict[str, str] = {}
    for h in headers:
        name = h.split(":", 1)[0].strip().lower()
        if name and name not in top:
            top[name] = h.split(":", 1)[1].lstrip(_SPACE) if ":" in h else ""
    info.headers = top
    col = _Collector(info, inbody=inbody_headers, scissors=scissors)
    _feed_part(col, headers, body, start_line + body_offset)
    info.msg = "".join(col.msg)
    info.patch = "".join(col.patch_parts)
    has_patch = bool(info.patch)
    values: dict[str, str | None] = {}
    for name in _INBODY:
        if has_patch and name in col.inbody:
            values[name] = col.inbody[name]
        elif name.lower() in top:
            values[name] = decode_header(top[name.lower()])
        else:
            values[name] = None
    if values["From"] is not None:
        info.has_author = True
        parsed = parse_from(values["From"])
        if parsed:
            info.author, info.email = parsed
    if values["Subject"] is not None:
        info.raw_subject = values["Subject"]
        info.subject = cleanup_space(cleanup_subject(values["Subject"]))
    if values["Date"] is not None:
        info.date = cleanup_space(values["Date"])
    info.message_id = decode_header(top.get("message-id", "")).strip()
    info.in_reply_to = next(iter(message_ids(top.get("in-reply-to", ""))), "")
    info.references = message_ids(top.get("references", ""))
    info.cr_lines = info.patch.count("\r\n")
    if not info.cr_lines:
        info.cr_encoded = False
    return info


def message_ids(value: str) -> list[str]:
    """Return the ``<id>`` tokens of an In-Reply-To or References header, in order."""
    return _MSG_ID.findall(value or "")

"""Hypothesis strategies for awscli config files botocore can read: sections, nested keys, comments, CRLF."""

from __future__ import annotations

from hypothesis import strategies as st

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=8)
values = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEF0123456789:/._-= ", min_size=1, max_size=20).map(str.strip) \
    .filter(bool)
comments = st.builds(lambda p, t: f"{p} {t}", st.sampled_from(["#", ";", "  #"]), values)


@st.composite
def section(draw, header: str) -> list[str]:
    lines = [f"[{header}]"]
    keys = draw(st.lists(words.filter(lambda w: w not in ("region",)), unique=True, max_size=4))
    for key in keys:
        kind = draw(st.sampled_from(["plain", "plain", "nested", "comment", "blank"]))
        if kind == "nested":
            indent = draw(st.sampled_from([" ", "  ", "    ", "\t"]))
            subs = draw(st.lists(words, unique=True, min_size=1, max_size=3))
            lines.append(f"{key} =")
            lines += [f"{indent}{s} = {draw(values)}" for s in subs]
        else:
            sep = draw(st.sampled_from([" = ", "=", " =  "]))
            lines.append(f"{key}{sep}{draw(values)}{draw(st.sampled_from(['', ' ', '  ']))}")
            if kind == "comment":
                lines.append(draw(comments))
            elif kind == "blank":
                lines.append("")
    return lines


@st.composite
def config_file(draw) -> tuple[str, bool]:
    names = draw(st.lists(words.filter(lambda w: w != "lab"), unique=True, max_size=5))
    headers = [draw(st.sampled_from([f"profile {n}", f'profile "{n} x"', f"services {n}", f"sso-session {n}", n,
                                     f"profile  {n}"])) for n in names]
    if draw(st.booleans()):
        headers.insert(0, "default")
    lines: list[str] = []
    if draw(st.booleans()):
        lines += draw(st.lists(comments, max_size=2))
    for h in headers:
        if draw(st.booleans()):
            lines.append(draw(comments))
        lines += draw(section(h))
        lines += [""] * draw(st.integers(0, 2))
    if draw(st.booleans()):  # a stray marker that is not right above a header claims nothing
        lines += ["# managed by labkit (profile lab): stray", ""]
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    text = nl.join(lines) + (nl if draw(st.booleans()) and lines else "")
    return text, nl == "\r\n"

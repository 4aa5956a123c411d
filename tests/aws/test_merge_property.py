"""Property: for any file botocore can read, labkit's merge keeps every other section and line, and is idempotent."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.aws import CloudProfile, write_profile
from labkit.aws.ini import MARKER_RE
from labkit.config import Secret

pytestmark = pytest.mark.unit

TARGET = CloudProfile("lab", "partner01", endpoints={"ec2": "http://h:8773/services/compute"},
                      access_key_id="AKIDPROP", secret=Secret("prop-secret", "t"))
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


def _without_labkit_blocks(text: str) -> list[str]:
    """Return the lines that are not inside a block labkit marked as its own."""
    from labkit.aws.ini import parse_sections

    lines = text.splitlines()
    drop: set[int] = set()
    for s in parse_sections([line + "\n" for line in lines]):
        if s.owner == "lab":
            drop.update(range(s.start, s.end))
    return [line for i, line in enumerate(lines) if i not in drop and line.strip()]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_file())
def test_merge_keeps_everything_else(case):
    from botocore.configloader import raw_config_parse

    text, crlf = case
    with tempfile.TemporaryDirectory() as d:
        cfg, cred = Path(d) / "config", Path(d) / "credentials"
        cfg.write_bytes(text.encode())
        before = raw_config_parse(str(cfg))
        write_profile(TARGET, cfg, cred, dry_run=False)
        merged = cfg.read_bytes()
        after = raw_config_parse(str(cfg))
        for name, value in before.items():
            assert after[name] == value
        assert set(after) - set(before) == {"profile lab", "services lab"}
        assert after["services lab"] == {"ec2": {"endpoint_url": "http://h:8773/services/compute"}}
        assert _without_labkit_blocks(merged.decode()) == _without_labkit_blocks(text)
        if crlf and "\r\n" in text:
            assert b"\n" not in merged.replace(b"\r\n", b"")
        assert not write_profile(TARGET, cfg, cred, dry_run=False).changed
        assert cfg.read_bytes() == merged
        # a changed profile replaces its own blocks in place, nothing else moves
        moved = CloudProfile("lab", "partner02", endpoint_url="http://g:1", access_key_id="AKIDPROP",
                             secret=Secret("prop-secret", "t"))
        write_profile(moved, cfg, cred, dry_run=False)
        again = raw_config_parse(str(cfg))
        assert {k: v for k, v in again.items() if k != "profile lab"} == before
        assert again["profile lab"]["region"] == "partner02"
        assert _without_labkit_blocks(cfg.read_text()) == _without_labkit_blocks(text)
        assert sum(1 for line in cfg.read_text().splitlines() if MARKER_RE.match(line) and "stray" not in line) == 1

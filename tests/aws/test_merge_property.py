"""Property: for any file botocore can read, labkit's merge keeps every other section and line, and is idempotent."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from labkit.aws import CloudProfile, write_profile
from labkit.aws.ini import MARKER_RE
from labkit.config import Secret
from tests.aws.strategies import config_file

pytestmark = pytest.mark.unit

TARGET = CloudProfile("lab", "partner01", endpoints={"ec2": "http://h:8773/services/compute"},
                      access_key_id="AKIDPROP", secret=Secret("prop-secret", "t"), credentials="keys")
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
                             secret=Secret("prop-secret", "t"), credentials="keys")
        write_profile(moved, cfg, cred, dry_run=False)
        again = raw_config_parse(str(cfg))
        assert {k: v for k, v in again.items() if k != "profile lab"} == before
        assert again["profile lab"]["region"] == "partner02"
        assert _without_labkit_blocks(cfg.read_text()) == _without_labkit_blocks(text)
        assert sum(1 for line in cfg.read_text().splitlines() if MARKER_RE.match(line) and "stray" not in line) == 1

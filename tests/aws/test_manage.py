"""``list_profiles`` and ``remove_profile``: a table of every profile, and labkit's own ones taken out cleanly.

Property (as for write): for any config and credentials files botocore can read, writing labkit's
profile then removing it gives back the same bytes (a missing final newline aside), every other
section reads the same to botocore, and listing changes nothing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from labkit.aws import AwsError, CloudProfile, list_profiles, remove_profile, write_profile
from labkit.config import Secret
from tests.aws.strategies import config_file

pytestmark = pytest.mark.unit

TARGET = CloudProfile("lab", "partner01", endpoints={"ec2": "http://h:8773/services/compute", "s3": "http://h:8773/s"},
                      access_key_id="AKIDPROP", secret=Secret("prop-secret-value", "t"), credentials="keys")


def _parse(path: Path) -> dict:
    from botocore.configloader import raw_config_parse

    return raw_config_parse(str(path)) if path.exists() else {}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_file(), config_file())
def test_remove_gives_back_the_files_and_list_changes_nothing(cfg_case, cred_case):
    from botocore.configloader import build_profile_map

    with tempfile.TemporaryDirectory() as d:
        cfg, cred = Path(d) / "config", Path(d) / "credentials"
        cfg.write_bytes(cfg_case[0].encode())
        cred.write_bytes(cred_case[0].encode())
        before = {p: (p.read_bytes(), _parse(p)) for p in (cfg, cred)}
        write_profile(TARGET, cfg, cred, dry_run=False)
        written = {p: p.read_bytes() for p in (cfg, cred)}
        rows = list_profiles(cfg, cred)
        assert {p: p.read_bytes() for p in (cfg, cred)} == written  # listing reads only
        names = set(build_profile_map(_parse(cfg))["profiles"]) | set(_parse(cred))
        assert [r.profile for r in rows] == sorted(names)
        assert [r.profile for r in rows if r.labkit] == ["lab"]
        lab = next(r for r in rows if r.profile == "lab")
        assert lab.secret == "credentials file (plain key)" and lab.region == "partner01"
        assert lab.endpoint == "http://h:8773/services/compute (+1 more services)"
        assert remove_profile("lab", cfg, cred).dry_run and {p: p.read_bytes() for p in (cfg, cred)} == written
        remove_profile("lab", cfg, cred, dry_run=False)
        for p, (raw, parsed) in before.items():
            assert _parse(p) == parsed
            want = raw if not raw or raw.endswith(b"\n") else raw + (b"\r\n" if b"\r\n" in raw else b"\n")
            assert p.read_bytes() in (raw, want)
        with pytest.raises(AwsError, match="no profile 'lab'"):
            remove_profile("lab", cfg, cred)


def test_a_profile_the_user_wrote_is_refused(tmp_path):
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    cfg.write_text("[profile mine]\nregion = eu-west-1\n")
    cred.write_text("[mine]\naws_access_key_id = A\naws_secret_access_key = B\n")
    with pytest.raises(AwsError) as err:
        remove_profile("mine", cfg, cred, dry_run=False)
    assert "not written by labkit" in str(err.value)
    assert cfg.read_text() == "[profile mine]\nregion = eu-west-1\n"
    with pytest.raises(AwsError, match="not usable"):
        remove_profile("x]\n[default", cfg, cred)


def test_list_says_where_each_secret_comes_from(tmp_path):
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    cfg.write_text("[default]\nregion = us-east-1\n"
                   "[profile sso]\nsso_session = corp\n"
                   "[profile role]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = default\n"
                   "[profile vault]\ncredential_process = aws-vault exec x --json\n"
                   "[profile gw]\nendpoint_url = http://10.0.0.1:5000\nrequest_checksum_calculation = when_required\n")
    cred.write_text("[default]\naws_access_key_id = A\naws_secret_access_key = B\n")
    rows = {r.profile: r for r in list_profiles(cfg, cred)}
    assert rows["default"].secret == "credentials file (plain key)" and rows["default"].endpoint == "AWS"
    assert rows["sso"].secret == "SSO" and rows["role"].secret == "role via default"
    assert rows["vault"].secret == "credential_process (another command)"
    assert rows["gw"].endpoint == "http://10.0.0.1:5000" and rows["gw"].checksums == "when_required"
    assert rows["default"].checksums == "default" and not any(r.labkit for r in rows.values())

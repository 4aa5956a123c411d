"""write_profile: dry run diff, ownership marker, force, backups, mode 0600, atomic all-or-nothing."""

from __future__ import annotations

import os
import stat

import pytest

import labkit.aws.commit as commit_mod
import labkit.aws.write as write_mod
from labkit.aws import AwsError, CloudProfile, preset_profile, write_profile
from labkit.config import Secret

pytestmark = pytest.mark.unit

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYzEXAMPLEKEY"
USER_CONFIG = """# my own notes: keep me
[default]
region = us-east-1\x20\x20\x20
output = json

[profile work]
# the work account
role_arn = arn:aws:iam::123:role/x
source_profile = default
s3 =
    signature_version = s3v4

[sso-session corp]
sso_start_url = https://corp.example.com/start
sso_region = eu-west-1
"""


def gateway(name="partner01", url="http://10.0.0.1:5000", **kw) -> CloudProfile:
    kw.setdefault("credentials", "keys")  # plain keys: these tests are about the two files
    return CloudProfile(name, "partner01", endpoint_url=url, access_key_id="AKIDEXAMPLE",
                        secret=Secret(SECRET, "test"), **kw)


@pytest.fixture
def files(tmp_path):
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    cfg.write_text(USER_CONFIG)
    return cfg, cred


def test_dry_run_is_a_unified_diff_and_writes_nothing(files, tmp_path):
    cfg, cred = files
    result = write_profile(gateway(), cfg, cred)
    assert result.dry_run and result.changed
    assert cfg.read_text() == USER_CONFIG and not cred.exists()
    assert f"--- {cfg}\n+++ {cfg}\n" in result.diff
    assert "--- /dev/null\n" in result.diff and f"+++ {cred}\n" in result.diff
    assert "+[profile partner01]\n" in result.diff and "+endpoint_url = http://10.0.0.1:5000\n" in result.diff
    assert "+aws_access_key_id = AKIDEXAMPLE\n" in result.diff
    assert SECRET not in result.diff and "+aws_secret_access_key = ******" in result.diff
    assert SECRET not in repr(result) and SECRET not in repr(gateway())
    # applying gives exactly the file the diff promised
    applied = write_profile(gateway(), cfg, cred, dry_run=False)
    assert applied.diff == result.diff
    assert cfg.read_text().startswith(USER_CONFIG) and "\n# managed by labkit (profile partner01)" in cfg.read_text()


def test_credentials_file_is_mode_0600_and_backups_keep_the_old_bytes(files):
    cfg, cred = files
    cred.write_text("[other]\naws_access_key_id = A\naws_secret_access_key = B\n")
    os.chmod(cred, 0o644)
    old_cred = cred.read_bytes()
    result = write_profile(gateway(), cfg, cred, dry_run=False)
    assert stat.S_IMODE(cred.stat().st_mode) == 0o600
    backups = {f.path: f.backup for f in result.files}
    assert open(backups[str(cred)], "rb").read() == old_cred
    assert open(backups[str(cfg)], "rb").read() == USER_CONFIG.encode()
    assert stat.S_IMODE(os.stat(backups[str(cred)]).st_mode) == 0o600
    assert cred.read_text().startswith("[other]\naws_access_key_id = A\n")


def test_new_credentials_file_is_0600(tmp_path):
    cred = tmp_path / "sub" / "credentials"
    write_profile(gateway(), tmp_path / "sub" / "config", cred, dry_run=False)
    assert stat.S_IMODE(cred.stat().st_mode) == 0o600


def test_a_profile_labkit_did_not_write_is_never_overwritten_without_force(files):
    cfg, cred = files
    with pytest.raises(AwsError) as err:
        write_profile(gateway("work"), cfg, cred, dry_run=True)
    assert "[profile work]" in str(err.value) and "force" in str(err.value)
    with pytest.raises(AwsError):
        write_profile(gateway("work"), cfg, cred, dry_run=False)
    assert cfg.read_text() == USER_CONFIG and not cred.exists()
    # default in either spelling is the same profile to botocore
    with pytest.raises(AwsError):
        write_profile(gateway("default"), cfg, cred, dry_run=False)
    # with force it is replaced in place and marked as labkit's
    write_profile(gateway("work"), cfg, cred, dry_run=False, force=True)
    text = cfg.read_text()
    assert "role_arn" not in text and "# the work account" not in text
    assert text.index("[default]") < text.index("[profile work]") < text.index("[sso-session corp]")
    assert "# managed by labkit (profile work)" in text
    assert "# my own notes: keep me" in text and "region = us-east-1   \n" in text
    # and from now on it is labkit's: no force needed
    assert not write_profile(gateway("work"), cfg, cred, dry_run=False).changed


def test_a_credentials_section_of_the_user_is_a_conflict_too(files):
    cfg, cred = files
    cred.write_text("[partner01]\naws_access_key_id = MINE\naws_secret_access_key = MINE\n")
    with pytest.raises(AwsError) as err:
        write_profile(gateway(), cfg, cred, dry_run=False)
    assert str(cred) in str(err.value)
    assert cfg.read_text() == USER_CONFIG and "MINE" in cred.read_text()


def test_another_labkit_profiles_services_section_is_not_taken(files):
    cfg, cred = files
    a = CloudProfile("a", "r1", endpoints={"ec2": "http://h:1/"}, services_section="shared")
    b = CloudProfile("b", "r1", endpoints={"ec2": "http://h:2/"}, services_section="shared")
    write_profile(a, cfg, cred, dry_run=False)
    with pytest.raises(AwsError) as err:
        write_profile(b, cfg, cred, dry_run=False)
    assert "labkit's profile a" in str(err.value)


def test_switching_layout_removes_the_stale_services_section(files):
    cfg, cred = files
    per_service = preset_profile("minio", "partner01", region="partner01", host="10.0.0.9",
                                 access_key_id="AKIDEXAMPLE", secret=Secret(SECRET, "t"))
    write_profile(per_service, cfg, cred, dry_run=False)
    assert "[services partner01]" in cfg.read_text()
    write_profile(gateway(), cfg, cred, dry_run=False)
    text = cfg.read_text()
    assert "[services partner01]" not in text and "endpoint_url = http://10.0.0.1:5000" in text
    assert text.startswith(USER_CONFIG) and "\n\n\n" not in text
    first = text
    write_profile(gateway(), cfg, cred, dry_run=False)
    assert cfg.read_text() == first


def test_profile_without_key_drops_its_credentials_section(files):
    cfg, cred = files
    write_profile(gateway(), cfg, cred, dry_run=False)
    assert "[partner01]" in cred.read_text()
    write_profile(CloudProfile("partner01", "partner01", endpoint_url="http://10.0.0.1:5000"), cfg, cred,
                  dry_run=False)
    assert "[partner01]" not in cred.read_text()


def test_edits_inside_labkits_section_are_replaced_and_the_rest_kept(files):
    cfg, cred = files
    write_profile(gateway(), cfg, cred, dry_run=False)
    good = cfg.read_text()
    cfg.write_text(good.replace("region = partner01\n", "region = wrong\nextra = 1\n")
                   + "\n# a note after labkit's block\n[profile later]\nregion = eu-west-1\n")
    result = write_profile(gateway(), cfg, cred, dry_run=False)
    assert "-region = wrong\n" in result.diff and "+region = partner01\n" in result.diff
    assert cfg.read_text() == good + "\n# a note after labkit's block\n[profile later]\nregion = eu-west-1\n"


def test_a_marker_separated_from_its_header_no_longer_claims_the_section(files):
    cfg, cred = files
    write_profile(gateway(), cfg, cred, dry_run=False)
    text = cfg.read_text().replace("[profile partner01]", "# hand-edited\n[profile partner01]")
    cfg.write_text(text)
    with pytest.raises(AwsError):
        write_profile(gateway(), cfg, cred, dry_run=False)
    assert cfg.read_text() == text


def test_crlf_files_and_missing_final_newline_are_respected(tmp_path):
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    cfg.write_bytes(b"[default]\r\nregion = us-east-1\r\n\r\n[profile x]\r\nregion = eu-west-1")
    write_profile(gateway(), cfg, cred, dry_run=False)
    raw = cfg.read_bytes()
    assert raw.startswith(b"[default]\r\nregion = us-east-1\r\n\r\n[profile x]\r\nregion = eu-west-1\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert not write_profile(gateway(), cfg, cred, dry_run=False).changed


def test_a_symlinked_config_is_written_through_the_link(tmp_path, files):
    cfg, cred = files
    link = tmp_path / "link-config"
    link.symlink_to(cfg)
    write_profile(gateway(), link, cred, dry_run=False)
    assert link.is_symlink() and "[profile partner01]" in cfg.read_text()


def test_same_file_for_both_is_refused(tmp_path):
    with pytest.raises(AwsError):
        write_profile(gateway(), tmp_path / "f", tmp_path / "f", dry_run=False)


def _snapshot(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if not p.name.endswith(".labkit-backup")}


def test_a_failure_between_the_two_renames_puts_the_first_file_back(files, tmp_path, monkeypatch):
    cfg, cred = files
    cred.write_text("[other]\naws_access_key_id = A\naws_secret_access_key = B\n")
    before = _snapshot(tmp_path)
    real_replace = os.replace
    calls = []

    def flaky(src, dst):
        calls.append(str(dst))
        if str(dst) == str(cred):
            raise OSError(28, "No space left on device", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(write_mod.os, "replace", flaky)
    with pytest.raises(AwsError) as err:
        write_profile(gateway(), cfg, cred, dry_run=False)
    assert "No space left" in str(err.value) and str(cfg) in calls  # the config had been replaced already
    monkeypatch.setattr(write_mod.os, "replace", real_replace)
    assert _snapshot(tmp_path) == before
    assert not [p for p in tmp_path.iterdir() if "labkit-tmp" in p.name]


def test_a_failure_while_writing_the_temporary_file_changes_nothing(files, tmp_path, monkeypatch):
    cfg, cred = files
    before = _snapshot(tmp_path)
    real_fsync = os.fsync
    count = {"n": 0}

    def failing_fsync(fd):
        count["n"] += 1
        if count["n"] == 3:  # after both backups, while writing the new config
            raise OSError(5, "Input/output error")
        return real_fsync(fd)

    monkeypatch.setattr(write_mod.os, "fsync", failing_fsync)
    with pytest.raises(AwsError):
        write_profile(gateway(), cfg, cred, dry_run=False)
    assert _snapshot(tmp_path) == before
    assert not [p for p in tmp_path.iterdir() if "labkit-tmp" in p.name]


def test_an_interrupt_during_the_write_rolls_back(files, tmp_path, monkeypatch):
    cfg, cred = files
    before = _snapshot(tmp_path)
    real_replace = os.replace

    def interrupted(src, dst):
        if str(dst) == str(cred):
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(write_mod.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_profile(gateway(), cfg, cred, dry_run=False)
    monkeypatch.setattr(write_mod.os, "replace", real_replace)
    assert _snapshot(tmp_path) == before


def test_a_file_changed_by_someone_else_mid_write_is_not_clobbered(files, monkeypatch):
    cfg, cred = files
    real = commit_mod.write_temp

    def meddle(path, data, mode):
        out = real(path, data, mode)
        if path == cfg:
            cfg.write_text(USER_CONFIG + "\n[profile added-meanwhile]\nregion = x\n")
        return out

    monkeypatch.setattr(commit_mod, "write_temp", meddle)
    with pytest.raises(AwsError) as err:
        write_profile(gateway(), cfg, cred, dry_run=False)
    assert "changed on disk" in str(err.value)
    assert "added-meanwhile" in cfg.read_text() and "partner01" not in cfg.read_text()
    assert not cred.exists()

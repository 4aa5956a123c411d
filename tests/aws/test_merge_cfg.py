"""Merging a profile into botocore's own sample config files keeps every other section as botocore reads it."""

from __future__ import annotations

import json
import shutil

import pytest

from labkit.aws import AwsError, CloudProfile, write_profile
from labkit.config import Secret
from tests.aws.conftest import DATA

pytestmark = pytest.mark.unit

CFG_DIR = DATA / "tests-unit-cfg"
EXPECTED_FILE = DATA / "tests-unit-cfg.EXPECTED-by-botocore-1.44.5.json"
if not EXPECTED_FILE.exists():
    pytest.skip(f"botocore sample configs not found at {DATA} (../shared/data/awscli)", allow_module_level=True)
EXPECTED = json.loads(EXPECTED_FILE.read_text())
READABLE = sorted(n for n, e in EXPECTED.items() if "load_config" in e)
UNREADABLE = sorted(n for n, e in EXPECTED.items() if "load_config_error" in e)

NEW = CloudProfile("labkit-partner01", "partner01", endpoints={"ec2": "http://10.1.1.1:8773/services/compute",
                                                               "elb": "http://10.1.1.1:8773/services/loadbalancing"},
                   access_key_id="AKIDLABKIT", secret=Secret("labkit-secret-value", "test"))


def _load(path):
    from botocore.configloader import load_config

    return load_config(str(path))


def test_the_data_covers_both_kinds():
    assert len(READABLE) >= 8 and len(UNREADABLE) >= 3


@pytest.mark.parametrize("name", READABLE)
def test_merge_keeps_old_profiles_and_adds_the_new_one(name, tmp_path):
    cfg = tmp_path / "config"
    shutil.copyfile(CFG_DIR / name, cfg)
    original = cfg.read_bytes()
    write_profile(NEW, cfg, tmp_path / "credentials", dry_run=False)
    merged_text = cfg.read_text()
    # every old byte is still there, in order, before labkit's block
    assert merged_text.startswith(original.decode().rstrip("\n"))
    loaded = _load(cfg)
    expected = EXPECTED[name]["load_config"]
    for key, value in expected.items():
        if key in ("profiles", "services"):
            for sub, settings in value.items():
                assert loaded[key][sub] == settings, (key, sub)
        else:
            assert loaded[key] == value, key
    new = loaded["profiles"]["labkit-partner01"]
    assert new["region"] == "partner01" and new["services"] == "labkit-partner01"
    assert new["s3"] == {"addressing_style": "path"}
    assert loaded["services"]["labkit-partner01"] == {
        "ec2": {"endpoint_url": "http://10.1.1.1:8773/services/compute"},
        "elastic_load_balancing": {"endpoint_url": "http://10.1.1.1:8773/services/loadbalancing"}}
    assert set(loaded["profiles"]) == set(expected["profiles"]) | {"labkit-partner01"}
    creds = _load(tmp_path / "credentials")
    assert creds["labkit-partner01"]["aws_secret_access_key"] == "labkit-secret-value"


@pytest.mark.parametrize("name", READABLE)
def test_writing_twice_changes_nothing(name, tmp_path):
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    shutil.copyfile(CFG_DIR / name, cfg)
    write_profile(NEW, cfg, cred, dry_run=False)
    first = (cfg.read_bytes(), cred.read_bytes())
    again = write_profile(NEW, cfg, cred, dry_run=False)
    assert not again.changed and again.diff == ""
    assert (cfg.read_bytes(), cred.read_bytes()) == first


@pytest.mark.parametrize("name", READABLE)
def test_raw_sections_read_back_exactly(name, tmp_path):
    from botocore.configloader import raw_config_parse

    cfg = tmp_path / "config"
    shutil.copyfile(CFG_DIR / name, cfg)
    write_profile(NEW, cfg, tmp_path / "credentials", dry_run=False)
    raw = raw_config_parse(str(cfg))
    for section, values in EXPECTED[name]["raw_config_parse"].items():
        assert raw[section] == values
    assert set(raw) - set(EXPECTED[name]["raw_config_parse"]) == {"profile labkit-partner01",
                                                                  "services labkit-partner01"}


@pytest.mark.parametrize("name", UNREADABLE)
def test_files_botocore_cannot_read_are_refused_and_left_alone(name, tmp_path):
    cfg = tmp_path / "config"
    shutil.copyfile(CFG_DIR / name, cfg)
    before = cfg.read_bytes()
    with pytest.raises(AwsError) as err:
        write_profile(NEW, cfg, tmp_path / "credentials", dry_run=False)
    assert "botocore" in str(err.value) or "not a text file" in str(err.value)
    assert cfg.read_bytes() == before
    assert not (tmp_path / "credentials").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]

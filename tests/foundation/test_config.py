"""Profiles come from one TOML file; secrets only from the environment or keyring and never show."""

import logging

import pytest

from labkit.config import Secret, get_profile, get_secret, load_profiles
from labkit.errors import ConfigError, LabkitError

pytestmark = pytest.mark.unit


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    monkeypatch.setenv("LABKIT_CONFIG", str(path))
    monkeypatch.delenv("LABKIT_PROFILE", raising=False)
    return path


def test_sandbox_is_the_default_profile(cfg):
    p = get_profile()
    assert p.name == "sandbox" and p.is_sandbox
    assert p.section("libvirt")["uri"] == "test:///default"


def test_profile_from_file_and_env_selection(cfg, monkeypatch):
    cfg.write_text('[profiles.prod.jira]\nurl = "https://jira.example.com"\nuser = "alice"\ntoken_env = "PROD_TOKEN"\n')
    monkeypatch.setenv("LABKIT_PROFILE", "prod")
    p = get_profile()
    assert p.name == "prod" and p.section("jira")["url"] == "https://jira.example.com"
    monkeypatch.setenv("PROD_TOKEN", "s3cr3t-value-123")
    secret = p.secret("jira")
    assert secret.reveal() == "s3cr3t-value-123"
    assert "s3cr3t" not in repr(secret) and "s3cr3t" not in str(secret) and "s3cr3t" not in f"{secret}"


def test_unknown_profile_names_the_known_ones(cfg):
    with pytest.raises(ConfigError) as err:
        get_profile("nope")
    assert "nope" in str(err.value) and "sandbox" in str(err.value)


def test_secret_in_file_is_refused(cfg):
    cfg.write_text('[profiles.prod.jira]\nurl = "https://x"\npassword = "hunter2"\n')
    with pytest.raises(ConfigError) as err:
        load_profiles()
    assert "password" in str(err.value) and "password_env" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_bad_toml_is_a_clear_error(cfg):
    cfg.write_text("[profiles.prod\n")
    with pytest.raises(LabkitError, match="not valid TOML"):
        load_profiles()


def test_an_unreadable_profiles_file_is_a_clear_error(cfg, tmp_path):
    cfg.mkdir()
    with pytest.raises(ConfigError, match=f"cannot read the profiles file {cfg} .*LABKIT_CONFIG"):
        load_profiles()
    (tmp_path / "latin1.toml").write_bytes(b'[profiles.caf\xe9.jira]\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_profiles(tmp_path / "latin1.toml")


def test_a_secret_in_another_file_names_that_file(cfg, tmp_path):
    other = tmp_path / "other.toml"
    other.write_text('[profiles.prod.jira]\ntoken = "hunter2"\n')
    with pytest.raises(ConfigError) as err:
        load_profiles(other)
    assert str(err.value).startswith(f"{other}: profiles.prod.jira.token holds a secret")


def test_missing_secret_says_how_to_provide_it(monkeypatch):
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    with pytest.raises(ConfigError) as err:
        get_secret("prod.jira.token", env="NO_SUCH_TOKEN")
    assert "export NO_SUCH_TOKEN" in str(err.value)


def test_secret_never_reaches_a_log(caplog):
    s = Secret("top-secret-xyz", "test")
    with caplog.at_level(logging.INFO):
        logging.getLogger("labkit").info("using %s %r", s, s)
    assert "top-secret-xyz" not in caplog.text

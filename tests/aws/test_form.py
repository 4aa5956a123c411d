"""The provider form: preview shows the diff, write needs a fresh preview, verify fills a table; no secret kept."""

from __future__ import annotations

import json
import os

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECRET = "form-typed-secret-0123456789"


def test_form_preview_write_verify(moto_url, clean_env, tmp_path):
    import ipywidgets
    from ipywidgets.embed import embed_data

    from labkit.forms.aws import ProviderForm, secret_env_name

    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    form = ProviderForm(name="formtest", preset="moto", url=moto_url, region="partner01",
                        access_key_id="AKIDFORM", config_file=cfg, credentials_file=cred)
    assert isinstance(form.secret, ipywidgets.Password)
    form.secret.value = SECRET
    assert form.write_button.disabled
    form.preview_button.click()
    assert form.secret.value == "" and os.environ[secret_env_name("formtest")] == SECRET
    assert form.last_result.dry_run and not cfg.exists() and not form.write_button.disabled
    assert "+[profile formtest]" in form.last_result.diff and SECRET not in form.last_result.diff
    # changing a field after the preview asks for a new one
    form.region.value = "partner02"
    assert form.write_button.disabled
    form.region.value = "partner01"
    form.preview_button.click()
    form.write_button.click()
    assert not form.last_result.dry_run and cfg.exists()
    # the secret went to this kernel's environment; the profile reads it through credential_process
    assert not cred.exists() and SECRET not in cfg.read_text()
    assert f"--secret-env {secret_env_name('formtest')}" in cfg.read_text()
    form.verify_button.click()
    statuses = {r.status for r in form.last_rows if r.check not in ("environment", "client and checksums")}
    assert statuses == {"pass"}, form.last_rows
    assert form.progress.value == form.progress.max == len(form.last_rows)
    assert form.progress.description == f"{len(form.last_rows)} / {len(form.last_rows)}"
    # nothing a notebook would save holds the secret: widget state of every widget of the form
    state = json.dumps(embed_data(views=[form])["manager_state"])
    assert SECRET not in state and "formtest" in state
    os.environ.pop(secret_env_name("formtest"), None)


def test_form_shows_user_mistakes_as_a_message(tmp_path, clean_env):
    from labkit.forms.aws import ProviderForm

    form = ProviderForm(name="x", preset="moto", url="127.0.0.1:5056", region="partner01",
                        config_file=tmp_path / "c", credentials_file=tmp_path / "k")
    form.preview_button.click()
    assert "no scheme" in form.status.value and not (tmp_path / "c").exists()


def test_secret_to_a_keyring_that_fails_is_dropped_not_kept(tmp_path, clean_env, monkeypatch):
    import keyring
    from keyring.errors import PasswordSetError

    from labkit.forms.aws import ProviderForm

    def no_backend(*_args):
        raise PasswordSetError("no recommended backend")

    monkeypatch.setattr(keyring, "set_password", no_backend)
    form = ProviderForm(name="kr", preset="moto", url="http://127.0.0.1:9", region="partner01",
                        access_key_id="AKIDKR", config_file=tmp_path / "c", credentials_file=tmp_path / "k")
    form.store.value = "keyring"
    form.secret.value = SECRET
    form.preview_button.click()
    assert form.secret.value == "" and "keyring" in form.status.value and "error" in form.status.value
    assert not (tmp_path / "c").exists()


def test_form_works_on_the_notebooks_secret_with_nothing_typed(moto_url, clean_env, tmp_path, monkeypatch):
    """Issue 19: the runbook builds the form with the secret reference its own cells use; Preview just works."""
    from labkit.forms.aws import ProviderForm

    monkeypatch.setenv("NOTEBOOK_SECRET", SECRET)
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    form = ProviderForm(name="nbform", preset="moto", url=moto_url, region="partner01", access_key_id="AKIDNB",
                        config_file=cfg, credentials_file=cred, secret_env="NOTEBOOK_SECRET",
                        credentials="keys", checksums="unset")
    assert "NOTEBOOK_SECRET" in form.secret.placeholder and form.secret.value == ""
    form.preview_button.click()
    assert form.status.value.startswith("dry run") and not form.write_button.disabled, form.status.value
    assert "credentials file (plain key)" in form.status.value
    assert "request_checksum_calculation" not in form.last_result.diff
    form.write_button.click()
    assert SECRET in cred.read_text()  # plain keys, as asked

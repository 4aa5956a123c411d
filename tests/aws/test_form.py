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
    assert not form.last_result.dry_run and cfg.exists() and SECRET in cred.read_text()
    form.verify_button.click()
    statuses = {r.status for r in form.last_rows if r.check != "environment"}
    assert statuses == {"pass"}, form.last_rows
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

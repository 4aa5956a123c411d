"""Issue 15, defect 7 (aws part): a password written into a URL never reaches a message, a table or a file.

Before the fix, ``labkit aws write --url ftp://u:PW@h`` printed the URL with its password, an
http URL with a password was written into ~/.aws/config as it was, and verify's rows repeated it.
"""

from __future__ import annotations

import pytest

from labkit.cli import main

pytestmark = pytest.mark.unit

PW = "Pa55-w0rd-in-url"


@pytest.mark.parametrize("url", [f"ftp://admin:{PW}@10.0.0.1/", f"http://admin:{PW}@10.0.0.1:8773",
                                 f"admin:{PW}@10.0.0.1:8773", f"https://{PW}@h/x y"])
def test_write_never_shows_or_keeps_a_password_in_the_url(tmp_path, capsys, url):
    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    for args in (["--url", url], ["--endpoint", f"ec2={url}"]):
        code = main(["aws", "write", "p", "--region", "partner01", *args, "--apply",
                     "--config-file", str(cfg), "--credentials-file", str(cred)])
        out, err = capsys.readouterr()
        assert code == 1 and err.startswith("labkit: error: ") and err.count("\n") == 1
        assert PW not in out + err
        assert "password" in err
        assert not cfg.exists() and not cred.exists()


def test_verify_masks_a_password_in_a_hand_written_endpoint(tmp_path, capsys):
    from labkit.sandbox import free_port

    cfg, cred = tmp_path / "config", tmp_path / "credentials"
    cfg.write_text(f"[profile p]\nregion = partner01\nendpoint_url = http://admin:{PW}@127.0.0.1:{free_port()}/\n")
    cred.write_text("[p]\naws_access_key_id = AKID\naws_secret_access_key = secret-value-123\n")
    code = main(["aws", "verify", "p", "--tool", "boto3", "--timeout", "2", "--format", "json",
                 "--config-file", str(cfg), "--credentials-file", str(cred)])
    out, err = capsys.readouterr()
    assert code == 1 and "cannot connect" in out
    assert PW not in out + err and "******@127.0.0.1" in out


def test_the_form_masks_it_too(tmp_path):
    pytest.importorskip("ipywidgets")
    from labkit.forms.aws import ProviderForm

    form = ProviderForm(name="x", preset="moto", url=f"ftp://admin:{PW}@10.0.0.1/", region="partner01",
                        config_file=tmp_path / "c", credentials_file=tmp_path / "k")
    form.preview_button.click()
    assert "error" in form.status.value and PW not in form.status.value
    assert not (tmp_path / "c").exists()

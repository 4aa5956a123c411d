"""Secrets are found where labkit knows them and taken out of every string of a notebook before it is saved."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from labkit.redact import MASK, find_secrets, scrub_notebook, scrub_text, secret_values

pytestmark = pytest.mark.unit


def test_secret_values_come_from_env_names_profiles_and_the_sandbox(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[profiles.prod.jira]\nurl = "https://jira.example.com"\ntoken_env = "PROD_JIRA"\n')
    rd = tmp_path / "run"
    rd.mkdir()
    (rd / "services.json").write_text(json.dumps({"jira": {"secret": "sandbox-secret-123"}}))
    env = {"MY_API_TOKEN": "tok-abcdef", "DB_PASSWORD": "hunter2-long", "PROD_JIRA": "named-by-profile-1",
           "AWS_SHARED_CREDENTIALS_FILE": "/home/u/.aws/credentials", "GIT_AUTHOR_NAME": "labkit-dev",
           "SHORT_TOKEN": "abc", "LABKIT_CONFIG": str(config), "LABKIT_RUN_DIR": str(rd), "HOME": "/home/u"}
    assert secret_values(env) == {"tok-abcdef", "hunter2-long", "named-by-profile-1", "sandbox-secret-123"}


def test_scrub_text_also_catches_the_url_quoted_form():
    assert scrub_text("a=p@ss/w0rd! b=p%40ss%2Fw0rd%21", ["p@ss/w0rd!"]) == f"a={MASK} b={MASK}"
    assert find_secrets("nothing here", ["p@ss/w0rd!"]) == []


def test_scrub_notebook_reaches_sources_outputs_metadata_but_not_images():
    secret = "s3cr3t-value-xyz"
    cell = new_code_cell(f"token = '{secret}'", outputs=[
        new_output("stream", name="stdout", text=f"token {secret}\n"),
        new_output("display_data", data={"text/html": f"<td>{secret}</td>", "text/plain": secret,
                                         "image/png": "iVBORs3cr3t-value-xyzAAA"}),
    ])
    nb = new_notebook(cells=[cell], metadata={"widgets": {"state": {"m": {"value": secret}}}})
    assert scrub_notebook(nb, [secret]) == 5
    text = nbformat.writes(nb)
    assert text.count(secret) == 1 and "iVBORs3cr3t-value-xyzAAA" in text  # only the binary image is untouched

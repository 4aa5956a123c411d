"""Defect 7 (Jira part): passwords written inside Jira URLs reached messages and files.

"'ftp://admin:PW@...' is not a Jira URL"; ``jira search --soap`` against a down server printed the
WSDL URL with its password; ``jira mirror`` saved the URL with its password in ``<db>.sync.json``
(mode 0644) and in its error. Now the client takes the user and password out of the URL (and sends
them as basic auth), every URL in a message goes through ``labkit.http.mask_url``, and the sync
state is written 0600 and never holds a credential.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys

import pytest

from labkit.jira.client import JiraClient
from labkit.jira.client.soap import SoapClient
from labkit.jira.errors import JiraError
from labkit.jira.sandbox.server import serve
from labkit.jira.store.mirror import _write_state, mirror, state_path

PW = "PW-s3cr3t-4711"


def closed_port() -> int:
    """A loopback port nothing listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.unit
@pytest.mark.parametrize("url", [f"ftp://admin:{PW}@jira.example.com/x", f"http://admin:{PW}@[::1",
                                 f"https://admin:{PW}@jira.example.com:notaport/"])
def test_a_bad_jira_url_is_refused_with_its_password_masked(url):
    with pytest.raises(JiraError, match="is not a Jira URL") as err:
        JiraClient(url)
    assert PW not in str(err.value) and "******@" in str(err.value)


@pytest.mark.unit
def test_the_client_keeps_no_password_in_its_url():
    client = JiraClient(f"http://admin:{PW}@127.0.0.1:{closed_port()}/jira/")
    assert PW not in client.url and PW not in repr(client) and client.url.startswith("http://127.0.0.1:")
    assert client.session.auth == ("admin", PW)  # still used, as basic auth
    soap = SoapClient(f"http://admin:{PW}@127.0.0.1:1", "admin", PW)
    assert PW not in soap.url and PW not in soap.wsdl_url and PW not in repr(soap)


def profile_env(tmp_path, url: str) -> dict[str, str]:
    """The environment of a labkit run whose profile ``p`` points at ``url``, token in the environment."""
    config = tmp_path / "config.toml"
    config.write_text(f'[profiles.p.jira]\nurl = "{url}"\nuser = "admin"\ntoken_env = "P_JIRA_TOKEN"\n')
    return {**os.environ, "LABKIT_CONFIG": str(config), "P_JIRA_TOKEN": "tok-123", "HOME": str(tmp_path)}


@pytest.mark.integration
def test_soap_search_against_a_down_server_shows_no_password(tmp_path):
    env = profile_env(tmp_path, f"http://admin:{PW}@127.0.0.1:{closed_port()}")
    r = subprocess.run([sys.executable, "-m", "labkit.cli", "--profile", "p", "--timeout", "5", "jira", "search",
                        "--soap", "project = DEMO"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert PW not in r.stderr + r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("labkit: error: could not load the SOAP WSDL from http://127.0.0.1:")


@pytest.mark.integration
def test_mirror_state_holds_no_password_and_is_private(tmp_path):
    db = tmp_path / "m.sqlite"
    with serve(seed_issues=12) as sb:
        client = JiraClient(sb.url.replace("http://", f"http://admin:{sb.secret}@"), progress=False)
        try:
            mirror(client, db, "project = DEMO")
        finally:
            client.close()
        text = state_path(db).read_text()
        assert sb.secret not in text and json.loads(text)["url"] == sb.url
        assert stat.S_IMODE(state_path(db).stat().st_mode) == 0o600
        other = JiraClient(sb.url.replace("127.0.0.1", "localhost"), ("admin", sb.secret), progress=False)
        with pytest.raises(JiraError, match="mirrors http://127.0.0.1") as err:
            mirror(other, db, "project = DEMO")
        assert sb.secret not in str(err.value)


@pytest.mark.unit
def test_an_old_state_with_a_password_is_masked_in_the_error_and_never_rewritten_with_it(tmp_path):
    db = tmp_path / "m.sqlite"
    state_path(db).write_text(json.dumps({"url": f"http://admin:{PW}@jira.old.example", "jql": ""}))
    client = JiraClient(f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(JiraError, match=r"mirrors http://\*\*\*\*\*\*@jira.old.example") as err:
        mirror(client, db)
    assert PW not in str(err.value)
    with pytest.raises(JiraError, match="would hold a password"):
        _write_state(state_path(db), {"url": f"http://admin:{PW}@jira.example.com"})

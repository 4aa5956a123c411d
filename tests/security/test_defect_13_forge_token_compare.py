"""Issue 15, defect 13 (forge part): the forge compares API tokens in constant time (hmac.compare_digest).

Constant time cannot be measured in a test (no timed assertions); what is checked is that the comparison the
forge makes is ``hmac.compare_digest`` on the presented token, and that odd tokens are a 401, never a 500.
"""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer

import pytest
import requests

from labkit.review import forge as forge_module

pytestmark = [pytest.mark.integration]

SECRET = "forge-secret-0123456789"


@pytest.fixture
def forge(tmp_path, monkeypatch):
    calls: list[tuple[bytes, bytes]] = []
    real = forge_module.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(forge_module.hmac, "compare_digest", spy)
    server = ThreadingHTTPServer(("127.0.0.1", 0), forge_module.make_handler(forge_module.Forge(tmp_path, SECRET)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", calls
    finally:
        server.shutdown()
        server.server_close()


def test_tokens_are_compared_with_compare_digest(forge):
    url, calls = forge
    api = f"{url}/repos/demo/calc/pulls/1"
    assert requests.get(api, headers={"Authorization": f"Bearer {SECRET}"}, timeout=10).status_code == 200
    assert requests.get(api, headers={"Authorization": "Bearer forge-secret-0123456780"}, timeout=10).status_code == 401
    assert (b"forge-secret-0123456780", SECRET.encode()) in calls and (SECRET.encode(), SECRET.encode()) in calls
    odd = requests.get(api, headers={"Authorization": "token \u00e9t\u00e9".encode()}, timeout=10)
    assert odd.status_code == 401

"""Defect 7 (part): passwords and tokens written inside URLs reached messages and logs unmasked.

``labkit.http.mask_url`` is the one helper for messages, logs and files; the HTTP layer's errors and
retry logs go through it, so a credential in the user part or in the query never shows.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import labkit.http as http
from labkit.errors import HttpError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("url, shown", [
    ("ftp://admin:PW-123456@jira.example.com/x", "ftp://******@jira.example.com/x"),
    ("https://u:p%40ss@h:8443/rest?x=1", "https://******@h:8443/rest?x=1"),
    ("https://h/api?access_token=TOK-abcdef&page=2", "https://h/api?access_token=******&page=2"),
    ("https://b.s3.example/k?X-Amz-Signature=abcd1234&X-Amz-Credential=AKID%2F2024",
     "https://b.s3.example/k?X-Amz-Signature=******&X-Amz-Credential=******"),
    ("https://h/api?api_key=K1&q=disk+space", "https://h/api?api_key=******&q=disk+space"),
    ("http://127.0.0.1:8080/rest/api/2/search?jql=project%3DDEMO", "http://127.0.0.1:8080/rest/api/2/search?jql=project%3DDEMO"),
    ("not a url", "not a url"),
])
def test_mask_url(url, shown):
    assert http.mask_url(url) == shown


def test_mask_urls_in_a_message():
    text = "'ftp://admin:PW-123456@10.0.0.1/x' is not a Jira URL; see https://h/wsdl?token=T0KEN-99"
    out = http.mask_urls(text)
    assert "PW-123456" not in out and "T0KEN-99" not in out
    assert out == "'ftp://******@10.0.0.1/x' is not a Jira URL; see https://h/wsdl?token=******"


@pytest.fixture
def refusing_server():
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            status = 503 if len(hits) == 1 else 401
            body = json.dumps({"message": "Bad credentials"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()


def test_a_token_in_the_query_never_reaches_the_error_or_the_log(refusing_server, caplog):
    url, hits = refusing_server
    with caplog.at_level("INFO", logger="labkit.http"), pytest.raises(HttpError) as err:
        http.session(url.replace("http://", "http://admin:pw-in-url-123@"), sleep=lambda _s: None, retries=1) \
            .get("/rest/api/2/myself?access_token=query-token-456")
    assert len(hits) == 2 and "retrying GET" in caplog.text
    seen = str(err.value) + (err.value.url or "") + caplog.text
    assert "pw-in-url-123" not in seen and "query-token-456" not in seen
    assert "access_token=******" in str(err.value)

"""Issue 15, defect 3: a token goes only to the host it is configured for, only over https or loopback.

Before the fix ``labkit pr review`` sent ``$GITHUB_TOKEN`` as a bearer token to whatever host the PR URL
named, over plain http too, and a forge that refused it (401) made the review fail instead of falling back
to the ``.patch`` URL.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from labkit.cli import main
from labkit.review import PullRequest, ReviewError

pytestmark = [pytest.mark.integration]

PATCH = (b"From 0123456789012345678901234567890123456789 Mon Sep 17 00:00:00 2001\n"
         b"From: A <a@example.com>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nSubject: [PATCH] EUCA-1: fix\n\n"
         b"Signed-off-by: A <a@example.com>\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n")


@pytest.fixture
def recording_forge():
    """A forge on loopback that answers 401 to any token, serves the .patch, and records every Authorization."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            seen.append(self.headers.get("Authorization"))
            if self.headers.get("Authorization"):
                body, status = b'{"message": "Bad credentials"}', 401
            elif self.path.endswith(".patch"):
                body, status = PATCH, 200
            else:
                body, status = b'{"message": "Not Found"}', 404
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_github_token_is_not_sent_to_another_host_and_review_works(recording_forge, monkeypatch, capsys):
    url, seen = recording_forge
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_canary_token_0123456789")
    code = main(["pr", "review", f"{url}/o/r/pull/1", "--issue-pattern", r"EUCA-\d+"])
    out, err = capsys.readouterr()
    assert "labkit: error" not in err and "EUCA-1: fix" in out and code == 0
    assert seen and all(a is None for a in seen), seen


def test_a_refused_token_falls_back_to_the_patch_url(recording_forge):
    url, seen = recording_forge
    pr = PullRequest.from_url(f"{url}/o/r/pull/1", token="configured-for-this-forge")
    assert [c.subject for c in pr.fetch_series()] == ["EUCA-1: fix"]
    assert pr.tried == ["patch"] and seen[0] == "Bearer configured-for-this-forge" and seen[-1] is None


def test_no_token_over_plain_http_to_a_remote_host():
    with pytest.raises(ReviewError, match="over plain http"):
        PullRequest.from_url("http://git.example.com/o/r/pull/1", token="secret-token")

"""The Jira sandbox: a Jira-compatible HTTP server on 127.0.0.1 over a local ``Store``.

Started by ``labkit sandbox start jira`` (this module's ``SERVICE``), or directly::

    python -m labkit.jira.sandbox --port 8080 --mode cloud --seed-issues 500
    python -m labkit.jira.sandbox --port 8080 --data dumps/     # REST JSON dumps instead of demo data

In-process, for tests and benchmarks::

    with serve(mode="server", seed_issues=200, secret="s3cret") as sb:
        requests.get(sb.url + "/rest/api/2/serverInfo")

Users: basic auth ``admin`` / ``$LABKIT_SANDBOX_SECRET``, or ``Authorization: Bearer <secret>``.
Under ``labkit sandbox`` the store lives in ``<run dir>/jira/jira.sqlite`` (kept across restarts, seeded
once); ``$LABKIT_JIRA_MODE`` (``server``/``cloud``) and ``$LABKIT_JIRA_SEED_ISSUES`` choose the
behaviour and the demo size, ``$LABKIT_JIRA_SEARCH_BUDGET`` the seconds a search may run. Tests inject faults through ``/_sandbox/faults``
(:mod:`labkit.jira.sandbox.faults`).
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.sandbox.registry import ServiceSpec

DEFAULT_SEED_ISSUES = 500
DEFAULT_SEED = 7


def _argv(port: int, workdir: Path) -> list[str]:
    """Build the sandbox command line (LABKIT_JIRA_MODE, LABKIT_JIRA_SEED_ISSUES, LABKIT_JIRA_SEARCH_BUDGET)."""
    mode = os.environ.get("LABKIT_JIRA_MODE", "server")
    seed = os.environ.get("LABKIT_JIRA_SEED_ISSUES", str(DEFAULT_SEED_ISSUES))
    argv = [sys.executable, "-m", "labkit.jira.sandbox", "--port", str(port), "--mode", mode,
            "--seed-issues", seed, "--db", str(workdir / "jira.sqlite")]
    budget = os.environ.get("LABKIT_JIRA_SEARCH_BUDGET")
    return argv + ["--search-budget", budget] if budget else argv


SERVICE = ServiceSpec(
    name="jira",
    description="Jira-compatible server (REST v2/v3, Cloud search, agile rank, SOAP)",
    argv=_argv,
    health_path="/status",
    order=20,
)


def iter_dump_issues(path: Path) -> Iterator[dict[str, Any]]:
    """Yield REST issue objects from a dump: one issue per .json, a search page, or .jsonl(.gz)."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        name = f.name.lower()
        if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(f, "rt", encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        obj = json.loads(line)
                        if isinstance(obj, dict) and "key" in obj and "fields" in obj:
                            yield obj
        elif name.endswith(".json"):
            obj = json.loads(f.read_text(encoding="utf-8"))
            if isinstance(obj, dict) and isinstance(obj.get("issues"), list):
                yield from (i for i in obj["issues"] if isinstance(i, dict) and "key" in i)
            elif isinstance(obj, list):
                yield from (i for i in obj if isinstance(i, dict) and "key" in i and "fields" in i)
            elif isinstance(obj, dict) and "key" in obj and "fields" in obj:
                yield obj


def open_store(db: str = ":memory:", *, seed_issues: int = DEFAULT_SEED_ISSUES, seed: int = DEFAULT_SEED,
               data: str | os.PathLike[str] | None = None, workflow: Any = None) -> Any:
    """Open the Store and fill it (dumps from ``data``, else the demo generator) unless it has issues.

    ``workflow`` is the demo data's :class:`labkit.jira.sandbox.histories.DemoWorkflow` (its default if None).
    """
    from labkit.jira.sandbox.fields import ISSUE_TYPES, PRIORITIES
    from labkit.jira.store import Store

    store = Store(db)
    store.add_objects("issuetype", ISSUE_TYPES)  # configured: JQL may name them before any issue has them
    store.add_objects("priority", PRIORITIES)
    if _has_issues(store):
        return store
    if data:
        store.import_issues(iter_dump_issues(Path(data)))
    elif seed_issues > 0:
        from labkit.jira.sandbox.demo import seed_store

        seed_store(store, seed_issues, seed, workflow=workflow)
    return store


def _has_issues(store: Any) -> bool:
    """Tell whether a store already holds issues (a reopened database is not re-seeded)."""
    try:
        return store.count("") > 0
    except Exception:  # noqa: BLE001 - an empty or fresh store may refuse the query
        return False


@dataclass
class RunningSandbox:
    """A sandbox served from a thread of this process (tests, benchmarks, notebooks)."""

    url: str
    secret: str = field(repr=False)  # the admin password and token: never shown
    app: Any
    server: Any
    thread: threading.Thread

    @property
    def auth(self) -> tuple[str, str]:
        """Return the basic-auth pair for this sandbox."""
        return ("admin", self.secret)

    def faults(self, rules: list[dict[str, Any]]) -> None:
        """Replace the fault-injection rules (see :mod:`labkit.jira.sandbox.faults`)."""
        self.app.faults.set_rules(rules)

    def stop(self) -> None:
        """Stop serving and close the store."""
        self.server.shutdown()
        self.server.server_close()
        close_connections(self.server)
        self.thread.join(timeout=10)
        self.app.close()


KEEP_ALIVE_IDLE = 120.0        # seconds an idle kept-alive connection may wait for its next request
KEEP_ALIVE_DRAIN = 1 << 20     # an unread request body up to this size is skipped to keep the connection


def make_server(app: Any, port: int = 0, host: str = "127.0.0.1") -> Any:
    """Return a threaded Werkzeug server for the app, quiet (no per-request log lines), with HTTP/1.1 keep-alive.

    Jira keeps connections open, and clients (requests' pools) reuse them: a Cloud search of
    20,000 issues makes about 200 calls. Werkzeug's handler closes every connection because
    http.server cannot skip a request body the app left unread; this one reads the body through a
    stream limited to its Content-Length, skips what is left after the answer (closing instead when
    that is over a MiB, or the body is chunked), and keeps the connection otherwise.
    """
    from werkzeug.serving import DechunkedInput, WSGIRequestHandler
    from werkzeug.serving import make_server as wz_make_server
    from werkzeug.wsgi import LimitedStream

    class KeepAliveHandler(WSGIRequestHandler):
        """A request handler that keeps HTTP/1.1 connections whose request body it can skip."""

        protocol_version = "HTTP/1.1"
        timeout = KEEP_ALIVE_IDLE
        disable_nagle_algorithm = True  # an answer's head and body are two writes: no wait for the ACK between
        _body: Any = None

        def setup(self) -> None:
            """Count this connection among the server's open ones (shut at stop)."""
            super().setup()
            with server.conns_lock:
                server.conns.add(self.connection)

        def finish(self) -> None:
            """Forget this connection."""
            with server.conns_lock:
                server.conns.discard(self.connection)
            super().finish()

        def make_environ(self) -> dict[str, Any]:
            """The WSGI environ, its input the connection's stream limited to the request's Content-Length."""
            environ = super().make_environ()
            real = self._stream
            if "HTTP_TRANSFER_ENCODING" in environ:  # chunked: read to its end, then close
                environ["wsgi.input"] = DechunkedInput(real)
                return environ
            try:
                length = max(int(environ.get("CONTENT_LENGTH") or 0), 0)
            except ValueError:
                environ["wsgi.input"] = real
                return environ
            self._body = environ["wsgi.input"] = LimitedStream(real, length)
            return environ

        def send_header(self, keyword: str, value: str) -> None:
            """Send a header; Werkzeug's "Connection: close" is left out while the body can be skipped."""
            if (keyword.lower() == "connection" and value.lower() == "close" and self._body is not None
                    and self._body.limit - self._body.tell() <= KEEP_ALIVE_DRAIN and not self.close_connection):
                return
            super().send_header(keyword, value)

        def run_wsgi(self) -> None:
            """Answer one request, then skip what is left of its body so the next request starts clean.

            Werkzeug reads whatever the socket holds after an answer (right for a connection it
            closes, but on a kept one that is the next request): during the call its ``rfile`` is
            an empty stream, the app reading the request through the environ's own stream.
            """
            self._stream, self._body = self.rfile, None
            self.rfile = _NO_BYTES
            try:
                super().run_wsgi()
            finally:
                self.rfile = self._stream
            body, self._body = self._body, None
            if not self.close_connection:
                if body is None:
                    self.close_connection = True
                else:
                    try:
                        body.exhaust()
                    except OSError:
                        self.close_connection = True

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = wz_make_server(host, port, app, threaded=True, request_handler=KeepAliveHandler)
    server.conns = set()
    server.conns_lock = threading.Lock()
    return server


class _NoBytes:
    """An input stream with nothing in it (what Werkzeug's after-answer read finds on a kept connection)."""

    @staticmethod
    def read(size: int = -1) -> bytes:
        """Return no bytes."""
        return b""


_NO_BYTES = _NoBytes()


def close_connections(server: Any) -> None:
    """Shut the connections a stopped server still holds open (kept-alive ones would be served on)."""
    import socket

    with server.conns_lock:
        conns = list(server.conns)
    for conn in conns:
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


@contextmanager
def serve(*, mode: str = "server", seed_issues: int = 200, seed: int = DEFAULT_SEED, data: str | None = None,
          secret: str | None = None, db: str = ":memory:", wsdl_dir: str | None = None,
          search_budget: float | None = None, workflow: Any = None) -> Iterator[RunningSandbox]:
    """Run a sandbox on a free loopback port in a background thread; stop it on exit.

    With ``db`` a file, searches run beside each other and beside writes (``:memory:`` has one connection);
    ``search_budget`` overrides the seconds a search may take (default :data:`app.SEARCH_BUDGET`).
    ``workflow`` (a :class:`labkit.jira.sandbox.histories.DemoWorkflow`) shapes the demo histories and boards.
    """
    import secrets as _secrets

    from labkit.jira.sandbox.app import SEARCH_BUDGET, JiraApp

    secret = secret or _secrets.token_urlsafe(18)
    app = JiraApp(lambda: open_store(db, seed_issues=seed_issues, seed=seed, data=data, workflow=workflow),
                  secret=secret, mode=mode, wsdl_dir=wsdl_dir, search_budget=search_budget or SEARCH_BUDGET,
                  workflow=_board_workflow(data, workflow))
    server = make_server(app)
    thread = threading.Thread(target=server.serve_forever, name="jira-sandbox", daemon=True)
    thread.start()
    running = RunningSandbox(f"http://127.0.0.1:{server.server_port}", secret, app, server, thread)
    try:
        yield running
    finally:
        running.stop()


def _board_workflow(data: Any, workflow: Any) -> Any:
    """The workflow whose columns the boards show: the demo data's (none for dumps: columns by category)."""
    if data:
        return None
    if workflow is None:
        from labkit.jira.sandbox.histories import DemoWorkflow

        workflow = DemoWorkflow()
    return workflow


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox server in the foreground until interrupted."""
    from labkit.jira.sandbox.app import SEARCH_BUDGET, JiraApp

    p = argparse.ArgumentParser(prog="python -m labkit.jira.sandbox", description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    p.add_argument("--mode", choices=("server", "cloud"), default="server", help="Jira Server/DC or Cloud behaviour")
    p.add_argument("--seed-issues", type=int, default=DEFAULT_SEED_ISSUES, help="demo issues to generate")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed of the demo data")
    p.add_argument("--data", help="directory (or file) of REST issue JSON dumps to load instead of demo data")
    p.add_argument("--db", default=":memory:", help="SQLite file of the store (default: in memory)")
    p.add_argument("--wsdl-dir", help="directory holding jirasoapservice-v2.wsdl (default: ../shared/data/jira/soap)")
    p.add_argument("--search-budget", type=float, default=SEARCH_BUDGET,
                   help=f"seconds a search may run before it is stopped with a 400 (default {SEARCH_BUDGET:g})")
    args = p.parse_args(argv)
    secret = os.environ.get("LABKIT_SANDBOX_SECRET")
    if not secret:
        print("LABKIT_SANDBOX_SECRET is not set: it is the admin password and token", file=sys.stderr)
        return 2
    app = JiraApp(lambda: open_store(args.db, seed_issues=args.seed_issues, seed=args.seed, data=args.data),
                  secret=secret, mode=args.mode, wsdl_dir=args.wsdl_dir, search_budget=args.search_budget,
                  workflow=_board_workflow(args.data, None))
    server = make_server(app, args.port, args.host)
    print(f"jira sandbox ({args.mode}) on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

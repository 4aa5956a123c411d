"""The sandbox's AWS-compatible cloud: moto, plus a front that answers the Eucalyptus URL layout.

One process (``labkit sandbox start aws``, this module's ``SERVICE``) serves moto on two ports:

- the gateway (the service's URL): moto as it is, every service at ``/``;
- the Eucalyptus front (its own port, in ``<run dir>/aws/endpoints.json``): a small Werkzeug
  path-routing layer that maps ``/services/compute``, ``/services/objectstorage``,
  ``/services/Euare``, ``/services/Tokens``, ... and DNS-style host names
  (``compute.REGION.DOMAIN``, reached through it as an HTTP proxy) onto moto, as a Eucalyptus 4.x
  cloud controller lays them out on port 8773. A call signed for another service than the path
  names is refused, as a cloud controller would.

``$LABKIT_AWS_SANDBOX_CHECKSUMS=reject`` (or ``--reject-checksums``) makes both ports refuse the
request checksums botocore >= 1.36 sends by default (``x-amz-checksum-*``,
``x-amz-sdk-checksum-algorithm``, ``x-amz-trailer``), answering S3's ``NotImplemented`` error the
way S3-compatible stores that predate them do. Run directly::

    python -m labkit.aws.sandbox --port 5000 --workdir /tmp/aws [--reject-checksums]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from labkit.sandbox.registry import ServiceSpec

ENDPOINTS_FILE = "endpoints.json"
CHECKSUM_ENV = "LABKIT_AWS_SANDBOX_CHECKSUMS"
# The request headers of the checksums botocore >= 1.36 sends unless request_checksum_calculation = when_required.
CHECKSUM_HEADERS = ("x-amz-sdk-checksum-algorithm", "x-amz-trailer", "x-amz-checksum-crc32", "x-amz-checksum-crc32c",
                    "x-amz-checksum-crc64nvme", "x-amz-checksum-sha1", "x-amz-checksum-sha256")
TRAILER_PAYLOAD = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def _argv(port: int, workdir: Path) -> list[str]:
    """Build the command line (``$LABKIT_AWS_SANDBOX_CHECKSUMS=reject`` adds --reject-checksums)."""
    argv = [sys.executable, "-m", "labkit.aws.sandbox", "--port", str(port), "--workdir", str(workdir)]
    if os.environ.get(CHECKSUM_ENV, "").strip().lower() == "reject":
        argv.append("--reject-checksums")
    return argv


SERVICE = ServiceSpec(
    name="aws",
    description="AWS-compatible cloud (moto server; Eucalyptus URL layout on a second port)",
    argv=_argv,
    env={"MOTO_ALLOW_NONEXISTENT_REGION": "true"},
    health_path="/moto-api/",
    order=10,
)


def endpoints(rd: Path | None = None) -> dict[str, str]:
    """Return the running sandbox's base URLs: ``gateway`` (moto) and ``eucalyptus`` (the front)."""
    from labkit.errors import SandboxError
    from labkit.sandbox import run_dir, service

    service("aws", rd=rd)  # a clear error when it is not running
    path = (rd or run_dir()) / "aws" / ENDPOINTS_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        raise SandboxError(f"the sandbox aws service has no {path}",
                           hint="restart it: labkit sandbox stop aws && labkit sandbox start aws") from None


# -- the Eucalyptus front --------------------------------------------------------------------------------------

def eucalyptus_routes() -> tuple[dict[str, str], dict[str, str]]:
    """Return (path name -> service id, DNS host label -> service id), lower-cased, from the preset's layout."""
    from labkit.aws.services import EUCALYPTUS_SERVICES

    paths = {path.lower(): sid for sid, (_label, path) in EUCALYPTUS_SERVICES.items()}
    labels = {label.lower(): sid for sid, (label, _path) in EUCALYPTUS_SERVICES.items()}
    return paths, labels


def signing_names(sids: Iterable[str]) -> dict[str, str]:
    """Return service id -> the SigV4 signing name botocore uses for it (``cloudwatch`` -> ``monitoring``)."""
    from botocore.session import get_session

    from labkit.aws.services import client_name

    session = get_session()
    return {sid: session.get_service_model(client_name(sid)).signing_name for sid in sids}


def signed_service(environ: dict) -> str | None:
    """Return the service a request was signed for (SigV4 header or presigned query), or None if unsigned."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = re.search(r"Credential=[^/,\s]+/\d{8}/[^/]+/(?P<service>[^/]+)/aws4_request", auth)
    if m:
        return m.group("service")
    cred = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
    parts = cred.split("/")
    return parts[3] if len(parts) == 5 else None


def error_response(start_response: Callable, status: str, sid: str | None, code: str, message: str) -> list[bytes]:
    """Answer an AWS error in the XML shape the service's protocol expects (S3, EC2 or query)."""
    code, message = escape(code), escape(message)
    if sid in (None, "s3"):
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>labkit</RequestId></Error>"
    elif sid == "ec2":
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                "<RequestID>labkit</RequestID></Response>")
    else:
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
                "<RequestId>labkit</RequestId></ErrorResponse>")
    data = ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode()
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(data)))])
    return [data]


def _drain(environ: dict) -> None:
    """Read a request body the answer does not need, so the connection stays usable."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    while length > 0 and stream is not None:
        chunk = stream.read(min(length, 1 << 20))
        if not chunk:
            break
        length -= len(chunk)


class EucalyptusFront:
    """WSGI: route ``/services/NAME/...`` and ``NAME.REGION.DOMAIN`` requests to moto with the prefix stripped."""

    def __init__(self, app: WSGIApp, own_host: str) -> None:
        """Wrap moto's application; ``own_host`` (127.0.0.1:PORT) is the Host moto sees (path-style buckets)."""
        self.app, self.own_host = app, own_host
        self.paths, self.labels = eucalyptus_routes()
        self.signing = signing_names(set(self.paths.values()))

    def route(self, host: str, path: str) -> tuple[str | None, str, str]:
        """Return (service id, the path moto should see, the prefix taken off) for a request, or (None, path, '')."""
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if hostname.count(".") >= 2 and not hostname.replace(".", "").isdigit():
            label = hostname.split(".", 1)[0].lower()
            if label in self.labels:
                return self.labels[label], path or "/", ""
        m = re.match(r"^/services/(?P<name>[^/]+)(?P<rest>/.*)?$", path)
        if m and m.group("name").lower() in self.paths:
            return self.paths[m.group("name").lower()], m.group("rest") or "/", f"/services/{m.group('name')}"
        return None, path, ""

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Answer one request: route it, check what it was signed for, hand it to moto."""
        sid, rest, prefix = self.route(environ.get("HTTP_HOST", ""), environ.get("PATH_INFO", ""))
        if sid is None:
            _drain(environ)
            return error_response(start_response, "404 Not Found", None, "NotFound",
                                  "this Eucalyptus cloud controller answers /services/NAME/... (compute, "
                                  "objectstorage, Euare, Tokens, AutoScaling, CloudFormation, CloudWatch, "
                                  "LoadBalancing) or NAME.REGION.DOMAIN host names")
        signed = signed_service(environ)
        if signed is not None and signed != self.signing[sid]:
            _drain(environ)
            return error_response(start_response, "400 Bad Request", sid, "InvalidAction",
                                  f"a request signed for {signed} reached the {sid} service")
        environ = dict(environ)
        environ["PATH_INFO"] = rest
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
        parts = urlsplit(raw) if "://" in raw else None
        raw_path = parts.path if parts else raw.split("?", 1)[0]
        if prefix and raw_path.lower().startswith(prefix.lower()):
            raw_path = raw_path[len(prefix):] or "/"
        query = environ.get("QUERY_STRING", "")
        environ["RAW_URI"] = environ["REQUEST_URI"] = raw_path + (f"?{query}" if query else "")
        environ["HTTP_HOST"] = self.own_host
        environ["SERVER_NAME"], _, port = self.own_host.partition(":")
        environ["SERVER_PORT"] = port or environ.get("SERVER_PORT", "80")
        return self.app(environ, start_response)


class ChecksumGate:
    """WSGI: refuse requests that carry the new S3 checksums, as S3-compatible stores that predate them do."""

    def __init__(self, app: WSGIApp) -> None:
        """Wrap an application."""
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Answer 501 NotImplemented naming the header, or pass the request on."""
        found = [h for h in CHECKSUM_HEADERS if "HTTP_" + h.upper().replace("-", "_") in environ]
        if environ.get("HTTP_X_AMZ_CONTENT_SHA256", "") == TRAILER_PAYLOAD:
            found.append(f"x-amz-content-sha256: {TRAILER_PAYLOAD}")
        if not found:
            return self.app(environ, start_response)
        _drain(environ)
        return error_response(start_response, "501 Not Implemented", "s3", "NotImplemented",
                              f"A header you provided implies functionality that is not implemented: {found[0]}")


# -- the process -------------------------------------------------------------------------------------------------

def _handler_class():
    """Return moto's request handler, logging paths without query strings (presigned URLs carry signatures)."""
    from moto.server import MotoRequestHandler

    class Handler(MotoRequestHandler):
        """Moto's handler with the query string left out of the access log."""

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            """Log method, path and status only."""
            path = self.path.split("?", 1)[0]
            self.log("info", '"%s %s" %s', self.command, path, getattr(code, "value", code))

    return Handler


def serve(port: int, workdir: Path, *, reject_checksums: bool = False) -> None:
    """Run moto on ``port`` and the Eucalyptus front on a free port until SIGTERM; record both URLs."""
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    os.environ.setdefault("MOTO_PORT", str(port))
    moto_app = DomainDispatcherApplication(create_backend_app)
    moto_app.debug = True  # type: ignore[attr-defined]
    handler = _handler_class()
    gate: Callable[[WSGIApp], WSGIApp] = ChecksumGate if reject_checksums else (lambda a: a)
    front = make_server("127.0.0.1", 0, lambda e, s: None, threaded=True, request_handler=handler)
    front_host = f"127.0.0.1:{front.server_port}"
    front.app = gate(EucalyptusFront(moto_app, front_host))
    gateway = make_server("127.0.0.1", port, gate(moto_app), threaded=True, request_handler=handler)
    workdir.mkdir(parents=True, exist_ok=True)
    record = {"gateway": f"http://127.0.0.1:{port}", "eucalyptus": f"http://{front_host}",
              "checksums": "reject" if reject_checksums else "accept"}
    tmp = workdir / (ENDPOINTS_FILE + ".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, workdir / ENDPOINTS_FILE)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_a: stop.set())
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (front, gateway)]
    for t in threads:
        t.start()
    print(f"labkit aws sandbox: moto on {record['gateway']}, Eucalyptus front on {record['eucalyptus']}, "
          f"checksums {record['checksums']}", flush=True)
    while not stop.wait(1.0):
        pass
    for s in (gateway, front):
        s.shutdown()
        s.server_close()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--reject-checksums", action="store_true",
                        help="refuse x-amz-checksum-* / x-amz-sdk-checksum-algorithm / x-amz-trailer requests")
    args = parser.parse_args(argv)
    serve(args.port, args.workdir, reject_checksums=args.reject_checksums)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

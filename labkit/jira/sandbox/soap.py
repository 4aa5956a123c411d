"""Legacy Jira SOAP (``/rpc/soap/jirasoapservice-v2``, Axis 1.3 rpc/encoded) for the sandbox.

Answers ``login``, ``logout``, ``getIssue``, ``getIssuesFromJqlSearch``, ``getServerInfo``,
``getStatuses``, ``getPriorities``, ``getIssueTypes`` and ``getResolutions`` the way Axis did:
results as ``multiRef`` elements referenced by ``href``, elements in WSDL order, typed with
``xsi:type``. Parameters are accepted typed or untyped, by name (``in0``...) or position.

The request is untrusted: it is parsed with defusedxml (no DTD, no entities), its size is
capped, a parameter index beyond what the WSDL gives the operation is a SOAP fault, and
session tokens are ``secrets.token_urlsafe`` values that expire after ``session_ttl`` idle seconds.

The WSDL is third-party data and is never shipped with labkit: it is served from the
directory given (or ``$LABKIT_JIRA_WSDL_DIR``, or ``../shared/data/jira/soap`` next to a
checkout) when present; without it the endpoint still answers SOAP calls.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from xml.sax.saxutils import escape, quoteattr

from werkzeug.wrappers import Request, Response

from labkit.jira.errors import JiraError
from labkit.jira.model import RANK_FIELD
from labkit.jira.sandbox.fields import ISSUE_TYPES, PRIORITIES

WSDL_NAME = "jirasoapservice-v2.wsdl"
SOAP_PATH = "/rpc/soap/jirasoapservice-v2"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"
ENC = "http://schemas.xmlsoap.org/soap/encoding/"
BEANS = "http://beans.soap.rpc.jira.atlassian.com"
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ADDRESS = re.compile(r'(<wsdlsoap:address\s+location=)"[^"]*"')
_TNS = re.compile(r'<wsdl:definitions[^>]*\btargetNamespace="([^"]+)"')
# Parameters (in0, in1, ...) of the operations served, as jirasoapservice-v2.wsdl's request messages list them.
PARAMETERS = {"login": 2, "logout": 1, "getIssue": 2, "getIssuesFromJqlSearch": 3, "getServerInfo": 1,
              "getStatuses": 1, "getPriorities": 1, "getIssueTypes": 1, "getResolutions": 1}
MAX_REQUEST_BYTES = 1 << 20   # a SOAP call of this service is a few hundred bytes; a JQL fits many times over
SESSION_TTL = 30 * 60         # seconds a token lives without use
MAX_SESSIONS = 10_000         # the oldest token goes first beyond this
_PARAM = re.compile(r"in(\d{1,3})")


def default_wsdl_dir() -> Path | None:
    """Find the Jira WSDL directory: ``$LABKIT_JIRA_WSDL_DIR`` or ``../shared/data/jira/soap``."""
    env = os.environ.get("LABKIT_JIRA_WSDL_DIR")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [p / "shared" / "data" / "jira" / "soap" for p in (here.parents[3].parent, here.parents[3])]
    for c in candidates:
        if (c / WSDL_NAME).is_file():
            return c
    return None


class SoapFault(Exception):
    """A SOAP fault in Axis' shape: exception class name and message."""

    def __init__(self, exception: str, message: str) -> None:
        """Record the Java exception class the fault names and its message."""
        self.exception = exception
        super().__init__(message)


def _text(value: Any) -> str:
    """Escape text for XML, dropping characters XML 1.0 cannot carry."""
    return escape(_BAD_XML.sub("", str(value)))


def soap_datetime(value: Any) -> str | None:
    """Turn Jira's ``2021-11-01T10:20:30.000+0000`` (or ISO) into an xsd:dateTime in UTC."""
    if not value:
        return None
    s = str(value)
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"):
        try:
            dt = datetime.strptime(s, fmt)
        except ValueError:
            continue
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class Encoder:
    """Build one Axis-style response: a body element plus the multiRef elements it references."""

    def __init__(self) -> None:
        """Start with no multiRef elements."""
        self.refs: list[str] = []

    def scalar(self, name: str, xsd: str, value: Any) -> str:
        """Render a typed scalar element (nil when the value is None)."""
        if value is None:
            return f'<{name} xsi:type="xsd:{xsd}" xsi:nil="true"/>'
        if isinstance(value, bool):
            value = "true" if value else "false"
        return f'<{name} xsi:type="xsd:{xsd}">{_text(value)}</{name}>'

    def struct(self, type_name: str, parts: list[str]) -> str:
        """Add a multiRef struct of a beans type; return its ``#id`` reference."""
        rid = f"id{len(self.refs)}"
        self.refs.append("")  # reserve the slot so nested refs get later ids
        body = "".join(parts)
        self.refs[int(rid[2:])] = (
            f'<multiRef id="{rid}" soapenc:root="0" soapenv:encodingStyle="{ENC}" xsi:type="ns2:{type_name}" '
            f'xmlns:ns2="{BEANS}" xmlns:soapenc="{ENC}">{body}</multiRef>')
        return f"#{rid}"

    def array(self, name: str, item_type: str, hrefs: list[str]) -> str:
        """Render a SOAP-encoded array of references to multiRef structs."""
        items = "".join(f'<{name} href="{h}"/>' for h in hrefs)
        return (f'<{name} soapenc:arrayType="ns2:{item_type}[{len(hrefs)}]" xsi:type="soapenc:Array" '
                f'xmlns:ns2="{BEANS}" xmlns:soapenc="{ENC}">{items}</{name}>')

    def strings(self, name: str, values: list[str]) -> str:
        """Render a SOAP-encoded array of xsd:string."""
        items = "".join(f'<{name} xsi:type="xsd:string">{_text(v)}</{name}>' for v in values)
        return (f'<{name} soapenc:arrayType="xsd:string[{len(values)}]" xsi:type="soapenc:Array" '
                f'xmlns:soapenc="{ENC}">{items}</{name}>')

    def named(self, type_name: str, entity: dict[str, Any], extra: list[str] | None = None) -> str:
        """Add a RemoteComponent-like struct (id, name, then extra parts); return its reference."""
        parts = [self.scalar("id", "string", entity.get("id")), self.scalar("name", "string", entity.get("name"))]
        return self.struct(type_name, parts + (extra or []))

    def constant(self, type_name: str, entity: dict[str, Any], extra: list[str] | None = None) -> str:
        """Add an AbstractRemoteConstant struct (id, name, description, icon, extra...)."""
        return self.named(type_name, entity, [self.scalar("description", "string", entity.get("description")),
                                              self.scalar("icon", "string", entity.get("iconUrl"))] + (extra or []))

    def version(self, v: dict[str, Any]) -> str:
        """Add a RemoteVersion struct."""
        return self.named("RemoteVersion", v, [
            self.scalar("archived", "boolean", bool(v.get("archived", False))),
            self.scalar("releaseDate", "dateTime", soap_datetime(v.get("releaseDate"))),
            self.scalar("released", "boolean", bool(v.get("released", False))),
            self.scalar("sequence", "long", None)])

    def issue(self, issue: dict[str, Any]) -> str:
        """Add a RemoteIssue struct in WSDL element order; return its reference."""
        f = issue.get("fields") or {}

        def ident(name: str, attr: str = "id") -> Any:
            """Return a field's id (or another attribute) whether it is an object or a bare value."""
            v = f.get(name)
            return v.get(attr) if isinstance(v, dict) else v

        def user(name: str) -> Any:
            """Return a user field's login name whether it is an object or a bare value."""
            v = f.get(name)
            if isinstance(v, dict):
                return v.get("name") or v.get("key") or v.get("accountId") or v.get("displayName")
            return v

        comps = [self.named("RemoteComponent", c) for c in f.get("components") or []]
        affects = [self.version(v) for v in f.get("versions") or []]
        fixes = [self.version(v) for v in f.get("fixVersions") or []]
        cfv = []
        if f.get(RANK_FIELD):
            cfv.append(self.struct("RemoteCustomFieldValue", [
                self.scalar("customfieldId", "string", RANK_FIELD), self.scalar("key", "string", None),
                self.strings("values", [str(f[RANK_FIELD])])]))
        votes = f.get("votes")
        parts = [
            self.scalar("id", "string", issue.get("id")),
            self.array("affectsVersions", "RemoteVersion", affects),
            self.scalar("assignee", "string", user("assignee")),
            self.strings("attachmentNames", [a.get("filename", "") for a in f.get("attachment") or []]),
            self.array("components", "RemoteComponent", comps),
            self.scalar("created", "dateTime", soap_datetime(f.get("created"))),
            self.array("customFieldValues", "RemoteCustomFieldValue", cfv),
            self.scalar("description", "string", f.get("description")),
            self.scalar("duedate", "dateTime", soap_datetime(f.get("duedate"))),
            self.scalar("environment", "string", f.get("environment")),
            self.array("fixVersions", "RemoteVersion", fixes),
            self.scalar("key", "string", issue.get("key")),
            self.scalar("priority", "string", ident("priority")),
            self.scalar("project", "string", ident("project", "key")),
            self.scalar("reporter", "string", user("reporter")),
            self.scalar("resolution", "string", ident("resolution")),
            self.scalar("status", "string", ident("status")),
            self.scalar("summary", "string", f.get("summary")),
            self.scalar("type", "string", ident("issuetype")),
            self.scalar("updated", "dateTime", soap_datetime(f.get("updated"))),
            self.scalar("votes", "long", votes.get("votes", 0) if isinstance(votes, dict) else (votes or 0)),
        ]
        return self.struct("RemoteIssue", parts)


class SoapBackend(Protocol):
    """The little the SOAP service needs from a tracker: a login check, issues by key, JQL keys, statuses."""

    def login(self, user: str | None, password: str | None) -> bool:
        """Tell whether the user and password are valid."""
        ...

    def issues(self, keys: list[str]) -> list[dict[str, Any]]:
        """Return the REST-shaped issues of these keys or ids (unknown ones left out)."""
        ...

    def search_keys(self, jql: str, limit: int | None) -> list[str]:
        """Return the keys a JQL finds, in order; raise JiraError for a JQL the tracker refuses."""
        ...

    def statuses(self) -> list[dict[str, Any]]:
        """Return the tracker's statuses, REST-shaped."""
        ...


class SoapService:
    """The SOAP endpoint as its own WSGI app: WSDL serving (when the WSDL is present) and the call dispatcher."""

    def __init__(self, backend: SoapBackend, wsdl_dir: str | os.PathLike[str] | None = None, *,
                 session_ttl: float = SESSION_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        """Serve SOAP over ``backend``, with the WSDL from ``wsdl_dir`` when it is there.

        A session token expires ``session_ttl`` seconds after its last use (``clock`` tells the time).
        """
        self.backend = backend
        found = Path(wsdl_dir) if wsdl_dir else default_wsdl_dir()
        self.wsdl_path = found / WSDL_NAME if found and (found / WSDL_NAME).is_file() else None
        self._wsdl: str | None = None
        self.session_ttl = session_ttl
        self.clock = clock
        self.tokens: OrderedDict[str, float] = OrderedDict()  # token -> when it expires, least recent first
        self._lock = threading.Lock()
        # id -> entity seen while rendering issues, so getStatuses() etc. name every id they carry
        self.seen: dict[str, dict[str, dict[str, Any]]] = {"status": {}, "priority": {}, "issuetype": {},
                                                           "resolution": {}}

    def wsdl(self) -> str | None:
        """Return the WSDL text, or None when it is not available on this machine."""
        if self._wsdl is None and self.wsdl_path is not None:
            self._wsdl = self.wsdl_path.read_text(encoding="utf-8")
        return self._wsdl

    def namespace(self, request: Request) -> str:
        """Return the response namespace: the WSDL's target namespace, or this endpoint's URL like Axis."""
        text = self.wsdl()
        m = _TNS.search(text) if text else None
        return m.group(1) if m else request.host_url.rstrip("/") + SOAP_PATH

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Answer one WSGI request."""
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        """Serve ``?wsdl`` on GET and SOAP calls on POST."""
        if request.method == "GET":
            if "wsdl" not in {k.lower() for k in request.args}:
                return Response("<h1>jirasoapservice-v2</h1><p>Hi there, this is an AXIS service!</p>",
                                content_type="text/html")
            text = self.wsdl()
            if text is None:
                return Response("The WSDL is not available on this sandbox (../shared/data/jira/soap is absent).",
                                status=404, content_type="text/plain")
            location = request.host_url.rstrip("/") + SOAP_PATH
            return Response(_ADDRESS.sub(lambda m: f'{m.group(1)}"{location}"', text), content_type="text/xml")
        try:
            data = request.stream.read(MAX_REQUEST_BYTES + 1)
            if len(data) > MAX_REQUEST_BYTES:
                raise SoapFault("org.xml.sax.SAXException",
                                f"the request is larger than {MAX_REQUEST_BYTES} bytes")
            op, params = self.parse(data)
            body = self.call(op, params, request)
            status = 200
        except SoapFault as fault:
            body = self.fault(fault)
            status = 500
        envelope = (f'<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="{ENV}" '
                    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
                    f"<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>")
        return Response(envelope.encode("utf-8"), status=status, content_type="text/xml; charset=utf-8")

    @staticmethod
    def parse(data: bytes) -> tuple[str, list[str | None]]:
        """Return the operation name and its parameters (by ``inN`` name or position, typed or not).

        Untrusted XML: a DTD or entity is refused, and so is an operation labkit does not serve or a
        parameter beyond the ones the WSDL gives the operation (``in5000000`` would otherwise ask
        for a list of five million entries).
        """
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import fromstring

        try:
            root = fromstring(data, forbid_dtd=True)
        except ET.ParseError as exc:
            raise SoapFault("org.xml.sax.SAXException", f"could not parse the request ({exc})") from None
        except DefusedXmlException as exc:
            raise SoapFault("org.xml.sax.SAXException",
                            f"the request carries a DTD or entity, which SOAP forbids ({type(exc).__name__})") from None
        body = root.find(f"{{{ENV}}}Body")
        if body is None or len(body) == 0:
            raise SoapFault("org.xml.sax.SAXException", "no SOAP Body in the request")
        call = body[0]
        op = call.tag.rsplit("}", 1)[-1]
        allowed = PARAMETERS.get(op)
        if allowed is None:
            raise SoapFault("org.xml.sax.SAXException", f"No such operation '{op[:100]}' in the labkit sandbox")
        if len(call) > allowed:
            raise SoapFault("org.xml.sax.SAXException",
                            f"{op} takes {allowed} parameter(s) (in0..in{allowed - 1}), not {len(call)}")
        by_id = {el.get("id"): el for el in body.iter() if el.get("id")}
        named: dict[int, str | None] = {}
        for pos, child in enumerate(call):
            name = child.tag.rsplit("}", 1)[-1]
            href = child.get("href")
            if href and href.startswith("#") and href[1:] in by_id:
                child = by_id[href[1:]]
            nil = child.get("{http://www.w3.org/2001/XMLSchema-instance}nil") in ("true", "1")
            m = _PARAM.fullmatch(name)
            if name.startswith("in") and name[2:].isdigit() and (m is None or int(m.group(1)) >= allowed):
                raise SoapFault("org.xml.sax.SAXException",
                                f"{op} has no parameter {name[:20]}{'...' if len(name) > 20 else ''}: "
                                f"it takes in0..in{allowed - 1}")
            index = int(m.group(1)) if m else pos
            named[index] = None if nil else (child.text or "")
        return op, [named.get(i) for i in range(max(named, default=-1) + 1)]

    def check(self, token: str | None) -> None:
        """Raise the Axis authentication fault unless the token came from login() and has not expired."""
        now = self.clock()
        with self._lock:
            expires = self.tokens.get(token or "")
            ok = expires is not None and expires > now
            if ok:
                self.tokens[token or ""] = now + self.session_ttl  # idle timeout: each use extends it
                self.tokens.move_to_end(token or "")
            elif expires is not None:
                del self.tokens[token or ""]
        if not ok:
            raise SoapFault("com.atlassian.jira.rpc.exception.RemoteAuthenticationException",
                            "User not authenticated yet, or session timed out.")

    def call(self, op: str, p: list[str | None], request: Request) -> str:
        """Run one operation and return the response wrapper plus its multiRefs."""
        ns = self.namespace(request)
        enc = Encoder()

        def arg(i: int) -> str | None:
            """Return the i-th SOAP parameter, or None when it was not given."""
            return p[i] if i < len(p) else None

        if op == "login":
            if not self.backend.login(arg(0), arg(1)):
                raise SoapFault("com.atlassian.jira.rpc.exception.RemoteAuthenticationException",
                                "Invalid username or password.")
            token = secrets.token_urlsafe(24)
            with self._lock:
                self.tokens[token] = self.clock() + self.session_ttl
                while len(self.tokens) > MAX_SESSIONS:
                    self.tokens.popitem(last=False)
            result = enc.scalar("loginReturn", "string", token)
        elif op == "logout":
            with self._lock:
                was = self.tokens.pop(arg(0) or "", None) is not None
            result = enc.scalar("logoutReturn", "boolean", was)
        elif op == "getServerInfo":
            self.check(arg(0))
            ref = enc.struct("RemoteServerInfo", [
                enc.scalar("baseUrl", "string", request.host_url.rstrip("/")),
                enc.scalar("buildDate", "dateTime", "2013-01-01T00:00:00.000Z"),
                enc.scalar("buildNumber", "string", "6100"), enc.scalar("edition", "string", "Standalone"),
                enc.scalar("serverTime", "string", None), enc.scalar("version", "string", "6.1")])
            result = f'<getServerInfoReturn href="{ref}"/>'
        elif op == "getIssue":
            self.check(arg(0))
            got = self.backend.issues([arg(1) or ""])
            if not got:
                raise SoapFault("com.atlassian.jira.rpc.exception.RemotePermissionException",
                                "This issue does not exist or you don't have permission to view it.")
            self.remember(got)
            result = f'<getIssueReturn href="{enc.issue(got[0])}"/>'
        elif op == "getIssuesFromJqlSearch":
            self.check(arg(0))
            raw = (arg(2) or "0").strip()
            if not (raw.lstrip("-").isdigit() and len(raw) <= 11 and -2**31 <= int(raw) < 2**31):
                raise SoapFault("com.atlassian.jira.rpc.exception.RemoteException",
                                f"maxNumResults must be an int, not {raw[:40]!r}")
            limit = int(raw)
            jql = arg(1) or ""
            try:
                keys = self.backend.search_keys(jql, limit if limit > 0 else None)
            except JiraError as exc:
                raise SoapFault("com.atlassian.jira.rpc.exception.RemoteException", str(exc)) from None
            issues = self.backend.issues(keys)
            self.remember(issues)
            hrefs = [enc.issue(i) for i in issues]
            result = enc.array("getIssuesFromJqlSearchReturn", "RemoteIssue", hrefs)
        elif op in ("getStatuses", "getPriorities", "getIssueTypes", "getResolutions"):
            self.check(arg(0))
            result = self.constants(op, enc)
        else:
            raise SoapFault("org.xml.sax.SAXException", f"No such operation '{op}' in the labkit sandbox")
        return (f'<ns1:{op}Response soapenv:encodingStyle="{ENC}" xmlns:ns1={quoteattr(ns)}>{result}'
                f"</ns1:{op}Response>" + "".join(enc.refs))

    def remember(self, issues: list[dict[str, Any]]) -> None:
        """Record the status/priority/type/resolution entities issues carry, for the lookup calls."""
        with self._lock:
            for i in issues:
                f = i.get("fields") or {}
                for name, seen in self.seen.items():
                    v = f.get(name)
                    if isinstance(v, dict) and v.get("id") is not None:
                        seen.setdefault(str(v["id"]), v)

    def constants(self, op: str, enc: Encoder) -> str:
        """Answer getStatuses/getPriorities/getIssueTypes/getResolutions."""
        kind, type_name = {"getStatuses": ("status", "RemoteStatus"), "getPriorities": ("priority", "RemotePriority"),
                           "getIssueTypes": ("issuetype", "RemoteIssueType"),
                           "getResolutions": ("resolution", "RemoteResolution")}[op]
        entities: dict[str, dict[str, Any]] = {}
        base = {"status": [], "priority": PRIORITIES, "issuetype": ISSUE_TYPES, "resolution": []}[kind]
        if kind == "status":
            base = self.backend.statuses()
        for e in base:
            entities[str(e["id"])] = e
        with self._lock:
            entities.update(self.seen[kind])
        hrefs = []
        for e in entities.values():
            extra = []
            if kind == "priority":
                extra = [enc.scalar("color", "string", e.get("statusColor"))]
            elif kind == "issuetype":
                extra = [enc.scalar("subTask", "boolean", bool(e.get("subtask", False)))]
            hrefs.append(enc.constant(type_name, e, extra))
        return enc.array(f"{op}Return", type_name, hrefs)

    @staticmethod
    def fault(fault: SoapFault) -> str:
        """Render an Axis ``soapenv:Fault``."""
        return ("<soapenv:Fault><faultcode>soapenv:Server.userException</faultcode>"
                f"<faultstring>{_text(fault.exception)}: {_text(fault)}</faultstring>"
                f"<detail><ns1:hostname xmlns:ns1=\"http://xml.apache.org/axis/\">labkit-sandbox</ns1:hostname>"
                "</detail></soapenv:Fault>")

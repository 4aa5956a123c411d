"""Legacy Jira SOAP client (Jira 6 and older) with zeep, offline-safe, into the same DataFrame as REST.

    from labkit.jira.client.soap import SoapClient
    soap = SoapClient("http://127.0.0.1:8080", "admin", secret)
    soap.search('project = DEMO ORDER BY key')        # same columns as JiraClient.search

The WSDL comes from the server (``?wsdl``). zeep never goes to the internet: the SOAP
encoding schema the WSDL imports resolves to labkit's own copy (``soap_encoding.xsd``) and any
other off-server schema URL is refused. HTTP goes through :func:`labkit.http.session`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from labkit.errors import HttpError
from labkit.jira.client.rest import COLUMNS, DEFAULT_RANK_FIELD, to_dataframe
from labkit.jira.errors import JiraError

SOAP_PATH = "/rpc/soap/jirasoapservice-v2"
SOAP_ENCODING_NS = "http://schemas.xmlsoap.org/soap/encoding/"
LOCAL_SCHEMAS = {SOAP_ENCODING_NS: Path(__file__).with_name("soap_encoding.xsd")}


def _transport_class() -> type:
    """Build the offline zeep transport class (zeep is imported only here)."""
    from zeep.transports import Transport

    class OfflineTransport(Transport):
        """A zeep transport over a labkit session that serves known schemas locally and refuses other hosts."""

        def __init__(self, server_url: str, session: Any, wsdl_url: str) -> None:
            """Send through labkit's session, to ``server_url``'s host only; ``wsdl_url`` is the one other load."""
            super().__init__(session=session, timeout=30, operation_timeout=120)
            origin = urlparse(server_url)
            self.origin = (origin.scheme, origin.netloc)
            self.wsdl_url = wsdl_url

        def load(self, url: str) -> bytes:
            """Load the WSDL and its schemas from labkit's local copies or the Jira server, never from elsewhere.

            A WSDL names schemas by URL: one naming ``file:///etc/shadow`` or another host must not
            make labkit read local files or reach the internet, so every other location is refused.
            """
            from labkit.http import mask_url

            for ns, path in LOCAL_SCHEMAS.items():
                if url.rstrip("/") == ns.rstrip("/"):
                    return path.read_bytes()
            parsed = urlparse(url)
            if url == self.wsdl_url or (parsed.scheme in ("http", "https")
                                        and (parsed.scheme, parsed.netloc) == self.origin):
                return super().load(url)
            where = "the internet" if parsed.scheme in ("http", "https") else "local files"
            raise JiraError(f"the WSDL wants {mask_url(url)[:200]}, and labkit does not load schemas from {where}",
                            hint="add a local copy of that schema to labkit.jira.client.soap.LOCAL_SCHEMAS")

        def post(self, address: str, message: Any, headers: dict[str, str]) -> Any:
            # SOAP faults arrive as HTTP 500 with a body zeep must read: do not raise on them.
            """POST a SOAP envelope and return the answer, faults included."""
            return self.session.request("POST", address, data=message, headers=headers,
                                        timeout=self.operation_timeout, check=False)

    return OfflineTransport


class SoapClient:
    """A Jira SOAP (``jirasoapservice-v2``) client: login, getIssue, JQL search into a DataFrame."""

    def __init__(self, url: str, user: str, password: Any, *, wsdl_url: str | None = None) -> None:
        """Prepare a client for the SOAP service at ``url``; nothing is fetched until the first call."""
        from labkit.http import session, split_credentials

        self.url = split_credentials(url)[0].rstrip("/")  # the user and password are given on their own
        self.user = user
        self._password = password
        self.session = session(self.url)
        self.wsdl_url = wsdl_url or f"{self.url}{SOAP_PATH}?wsdl"
        self._service: Any = None
        self._token: str | None = None
        self._names: dict[str, dict[str, str]] = {}

    def __repr__(self) -> str:
        """Show the URL and user only (never the password)."""
        return f"SoapClient({self.url!r}, user={self.user!r})"

    @property
    def service(self) -> Any:
        """Return the zeep service proxy, bound to this server's SOAP address."""
        if self._service is None:
            import zeep

            from labkit.http import mask_url

            transport = _transport_class()(self.url, self.session, self.wsdl_url)
            settings = zeep.Settings(strict=False, xml_huge_tree=True)
            try:
                client = zeep.Client(self.wsdl_url, transport=transport, settings=settings)
            except HttpError as exc:
                raise JiraError(f"could not load the SOAP WSDL from {mask_url(self.wsdl_url)} ({exc.message})",
                                hint="SOAP exists on Jira 6 and older only; on the sandbox it needs "
                                     "../shared/data/jira/soap/jirasoapservice-v2.wsdl") from None
            binding = next(iter(client.wsdl.bindings))
            self._service = client.create_service(binding, f"{self.url}{SOAP_PATH}")
        return self._service

    def _call(self, op: str, *args: Any) -> Any:
        """Call one SOAP operation; a SOAP fault becomes a JiraError."""
        from zeep.exceptions import Fault

        try:
            return getattr(self.service, op)(*args)
        except Fault as exc:
            reason = " ".join(str(exc.message).split())  # one line: a JQL error's caret line would split it
            raise JiraError(f"SOAP {op} failed: {reason}", hint="check the user, password and JQL") from None

    def login(self) -> str:
        """Log in and keep the session token."""
        password = self._password.reveal() if hasattr(self._password, "reveal") else self._password
        self._token = self._call("login", self.user, password)
        return self._token

    @property
    def token(self) -> str:
        """Return the session token, logging in first if needed."""
        return self._token or self.login()

    def issue(self, key: str) -> dict[str, Any]:
        """Return one RemoteIssue as a dict (fields in WSDL order)."""
        from zeep.helpers import serialize_object

        return dict(serialize_object(self._call("getIssue", self.token, key)))

    def search_issues(self, jql: str, max_results: int = 1000) -> list[dict[str, Any]]:
        """Return RemoteIssues for a JQL as dicts (``getIssuesFromJqlSearch``)."""
        from zeep.helpers import serialize_object

        if max_results < 0:
            raise JiraError(f"the search limit {max_results} is negative", hint="give a limit of 0 or more")
        if max_results == 0:
            return []  # as on REST; SOAP servers read a maxNumResults of 0 as "no limit"
        found = self._call("getIssuesFromJqlSearch", self.token, jql, max_results) or []
        items = getattr(found, "_value_1", found)
        return [dict(serialize_object(i)) for i in items]

    def keys(self, jql: str, max_results: int = 1000) -> list[str]:
        """Return the keys a JQL finds over SOAP, in the server's order."""
        return [i["key"] for i in self.search_issues(jql, max_results)]

    def names(self, kind: str) -> dict[str, str]:
        """Return id -> name for ``status``, ``priority``, ``issuetype`` or ``resolution``."""
        from zeep.helpers import serialize_object

        if kind not in self._names:
            op = {"status": "getStatuses", "priority": "getPriorities", "issuetype": "getIssueTypes",
                  "resolution": "getResolutions"}[kind]
            found = self._call(op, self.token) or []
            self._names[kind] = {str(x["id"]): x["name"] for x in (serialize_object(i) for i in found)}
        return self._names[kind]

    def search(self, jql: str, max_results: int = 1000):  # -> pandas.DataFrame
        """Run a JQL over SOAP; return the same columns as :meth:`JiraClient.search`.

        SOAP does not carry status categories, labels or links: those columns stay empty.
        """
        issues = self.search_issues(jql, max_results)
        status, prio, types = self.names("status"), self.names("priority"), self.names("issuetype")
        rows = []
        for i in issues:
            rank = None
            for cf in i.get("customFieldValues") or []:
                if cf and cf.get("customfieldId") == DEFAULT_RANK_FIELD and cf.get("values"):
                    rank = cf["values"][0]
            rows.append({
                "key": i.get("key"), "summary": i.get("summary"),
                "status": status.get(str(i.get("status")), i.get("status")), "status_category": None,
                "issuetype": types.get(str(i.get("type")), i.get("type")),
                "priority": prio.get(str(i.get("priority")), i.get("priority")),
                "assignee": i.get("assignee"), "reporter": i.get("reporter"),
                "created": _iso(i.get("created")), "updated": _iso(i.get("updated")),
                "resolved": None, "labels": [], "components": [c["name"] for c in i.get("components") or [] if c],
                "rank": rank, "blocked_by": [], "blocks": [],
            })
        return to_dataframe(rows)[COLUMNS]


def _iso(value: Any) -> Any:
    """Return a datetime as ISO text (other values unchanged)."""
    return value.isoformat() if hasattr(value, "isoformat") else value

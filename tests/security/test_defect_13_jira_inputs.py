"""Defect 13 (Jira part): untrusted input reached JQL, XML parsing, schema loading and SOAP sessions.

- A ``--project`` value containing ``"`` went unescaped into the import's duplicate-lookup JQL: that
  JQL is now built with the JQL builder (Atlassian, "Advanced searching": a value with reserved
  characters is quoted, and a quote inside a quoted string is escaped as ``\\"``).
- The SOAP endpoint parsed requests with ElementTree: now defusedxml, with DTDs refused (SOAP 1.1,
  section 3: "A SOAP message MUST NOT contain a Document Type Declaration").
- zeep could read ``file://`` schemas (or plain paths) a WSDL names: only labkit's local copy of the
  SOAP encoding schema and the Jira server itself are loaded.
- SOAP session tokens were 40-bit (``token_hex(5)``) and never expired: now ``token_urlsafe(24)``,
  expiring after ``session_ttl`` idle seconds.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from werkzeug.test import Client

from labkit.jira.client.soap import SoapClient
from labkit.jira.errors import JiraError
from labkit.jira.sandbox.soap import SoapService
from labkit.tracker import rt
from labkit.tracker.bulk_import import Mapping, plan_import, run_import

pytestmark = pytest.mark.unit

ENVELOPE = ('<?xml version="1.0" encoding="UTF-8"?>{dtd}<soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:soap="http://soap.rpc.jira.atlassian.com"><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>')


class LookupRecorder:
    """A client whose searches are recorded (and find nothing); the import stops at its first create."""

    api = "/rest/api/2"

    def __init__(self) -> None:
        self.jql: list[str] = []
        self.session = self

    def search_issues(self, jql, fields=None, progress=None):
        self.jql.append(jql)
        return []

    def post(self, *a, **k):
        raise RuntimeError("stop here")


def test_a_quote_in_the_project_stays_inside_one_jql_value(tmp_path):
    client = LookupRecorder()
    project = 'X" OR project = "DEMO'
    plan = plan_import([rt.Ticket("1", "one"), rt.Ticket("2", "two")], Mapping(project=project))
    with pytest.raises(RuntimeError, match="stop here"):
        run_import(plan, client, tmp_path / "j", set_status=False)
    # written by hand from Jira's quoting rules: the quotes inside the value are escaped
    assert client.jql == ['project = "X\\" OR project = \\"DEMO" AND labels IN (rt-1, rt-2)']


class Backend:
    """The smallest SOAP backend: admin/pw logs in, no issues."""

    def login(self, user, password):
        return (user, password) == ("admin", "pw")

    def issues(self, keys):
        return []

    def search_keys(self, jql, limit):
        return []

    def statuses(self):
        return []


def soap_post(service: SoapService, body: str, dtd: str = "") -> str:
    """POST one SOAP call to the service and return the answer's text."""
    r = Client(service).post("/rpc/soap/jirasoapservice-v2", data=ENVELOPE.format(dtd=dtd, body=body).encode(),
                             content_type="text/xml")
    return r.get_data(as_text=True)


def test_soap_refuses_a_dtd_and_its_entities():
    service = SoapService(Backend())
    dtd = '<!DOCTYPE x [<!ENTITY who "admin">]>'
    answer = soap_post(service, "<soap:login><in0>&who;</in0><in1>pw</in1></soap:login>", dtd)
    assert "<soapenv:Fault>" in answer and "DTD" in answer and "loginReturn" not in answer
    laughs = ('<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)) + "]>")
    answer = soap_post(service, "<soap:login><in0>&i;</in0><in1>pw</in1></soap:login>", laughs)
    assert "<soapenv:Fault>" in answer and "DTD" in answer


def test_soap_tokens_are_long_and_expire_when_idle():
    now = [1000.0]
    service = SoapService(Backend(), session_ttl=60, clock=lambda: now[0])
    answer = soap_post(service, "<soap:login><in0>admin</in0><in1>pw</in1></soap:login>")
    token = answer.split('<loginReturn xsi:type="xsd:string">')[1].split("<")[0]
    assert len(token) >= 32  # token_urlsafe(24): 192 bits
    info = f"<soap:getServerInfo><in0>{token}</in0></soap:getServerInfo>"
    now[0] += 50
    assert "getServerInfoReturn" in soap_post(service, info)
    now[0] += 50  # 100 s after login but 50 s after the last use: still alive
    assert "getServerInfoReturn" in soap_post(service, info)
    now[0] += 61
    answer = soap_post(service, info)
    assert "RemoteAuthenticationException" in answer and "session timed out" in answer


WSDL = """<?xml version="1.0"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
  xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:tns="urn:t" targetNamespace="urn:t">
 <wsdl:types>
  <xsd:schema targetNamespace="urn:t"><xsd:import namespace="urn:s" schemaLocation="{location}"/></xsd:schema>
 </wsdl:types>
 <wsdl:message name="m"><wsdl:part name="in0" type="xsd:string"/></wsdl:message>
 <wsdl:portType name="P"><wsdl:operation name="login"><wsdl:input message="tns:m"/><wsdl:output message="tns:m"/>
 </wsdl:operation></wsdl:portType>
 <wsdl:binding name="B" type="tns:P"><soap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>
  <wsdl:operation name="login"><soap:operation soapAction=""/><wsdl:input><soap:body use="literal" namespace="urn:t"/>
  </wsdl:input><wsdl:output><soap:body use="literal" namespace="urn:t"/></wsdl:output></wsdl:operation></wsdl:binding>
 <wsdl:service name="S"><wsdl:port name="p" binding="tns:B"><soap:address location="http://127.0.0.1:1/x"/>
 </wsdl:port></wsdl:service>
</wsdl:definitions>"""
SCHEMA = ('<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:s">'
          '<xsd:element name="secret" type="xsd:string"/></xsd:schema>')


class WsdlServer:
    """Serves one WSDL (and one schema at /schema.xsd) on 127.0.0.1; counts what is fetched."""

    def __init__(self, wsdl: str) -> None:
        self.fetched: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):  # noqa: N802
                outer.fetched.append(self.path)
                body = (SCHEMA if self.path.startswith("/schema.xsd") else wsdl).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.integration
def test_a_wsdl_naming_a_local_file_makes_zeep_read_nothing(tmp_path):
    secret = tmp_path / "secret.xsd"  # a valid schema: reading it would succeed silently
    secret.write_text(SCHEMA)
    server = WsdlServer(WSDL.format(location=secret.as_uri()))
    try:
        with pytest.raises(JiraError, match="labkit does not load schemas from local files"):
            SoapClient(server.url, "admin", "pw").service  # noqa: B018
    finally:
        server.close()


@pytest.mark.integration
def test_schemas_on_the_jira_server_itself_still_load(tmp_path):
    server = WsdlServer(WSDL.format(location="/schema.xsd"))
    try:
        SoapClient(server.url, "admin", "pw").service  # noqa: B018
        assert "/schema.xsd" in server.fetched
    finally:
        server.close()

"""Legacy SOAP: the sandbox serves the real Jira WSDL (Axis rpc/encoded) and zeep reads it offline."""

from __future__ import annotations

import socket

import pytest
import requests

from labkit.jira.client.rest import COLUMNS, JiraClient
from labkit.jira.client.soap import SoapClient
from labkit.jira.errors import JiraError
from labkit.jira.sandbox import serve

pytestmark = pytest.mark.integration

ENVELOPE = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:soap="http://soap.rpc.jira.atlassian.com"><soapenv:Body>{}</soapenv:Body></soapenv:Envelope>')


@pytest.fixture(scope="module")
def wsdl_dir(request):
    """The folder of the real Jira WSDL (skip when the shared data is absent)."""
    from tests.conftest import shared_data_dir

    path = shared_data_dir() / "jira" / "soap"
    if not (path / "jirasoapservice-v2.wsdl").is_file():
        pytest.skip(f"the real Jira WSDL is third-party data and not in the repo; not found at {path}")
    return path


@pytest.fixture(scope="module")
def sb(wsdl_dir):
    """A Server/DC sandbox serving SOAP with the real WSDL."""
    with serve(mode="server", seed_issues=150, seed=4, wsdl_dir=str(wsdl_dir)) as running:
        yield running


@pytest.fixture
def loopback_only(monkeypatch):
    """Fail the test if anything tries to reach a host other than 127.0.0.1."""
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        """Refuse any connection that is not to loopback."""
        assert address[0] in ("127.0.0.1", "localhost"), f"tried to reach {address}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


def post(sb, body: str) -> requests.Response:
    """POST a raw SOAP body to the sandbox (no client in between)."""
    return requests.post(sb.url + "/rpc/soap/jirasoapservice-v2", data=ENVELOPE.format(body).encode(),
                         headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})


def test_wsdl_is_served_with_this_address(sb):
    r = requests.get(sb.url + "/rpc/soap/jirasoapservice-v2?wsdl")
    assert r.status_code == 200 and "getIssuesFromJqlSearch" in r.text
    assert f'location="{sb.url}/rpc/soap/jirasoapservice-v2"' in r.text


@pytest.mark.parametrize("jql", ["created is not EMPTY ORDER BY key ASC", "statusCategory != Done ORDER BY Rank ASC"])
def test_soap_gives_the_same_keys_as_rest(sb, loopback_only, jql):
    soap = SoapClient(sb.url, "admin", sb.secret)
    rest = JiraClient(sb.url, sb.auth)
    assert soap.keys(jql, 1000) == rest.search_keys(jql)
    assert soap.keys(jql, 7) == rest.search_keys(jql)[:7]


def test_soap_dataframe_has_the_rest_columns(sb, loopback_only):
    jql = "created is not EMPTY ORDER BY key ASC"
    soap = SoapClient(sb.url, "admin", sb.secret).search(jql)
    rest = JiraClient(sb.url, sb.auth).search(jql)
    assert list(soap.columns) == COLUMNS
    for col in ("key", "summary", "status", "issuetype", "priority", "rank", "components"):
        assert list(soap[col]) == list(rest[col]), col
    assert (soap["created"] == rest["created"]).all()


def test_get_issue_fields_in_wsdl_order(sb, loopback_only):
    soap = SoapClient(sb.url, "admin", sb.secret)
    key = JiraClient(sb.url, sb.auth).search_keys("created is not EMPTY ORDER BY key ASC")[0]
    issue = soap.issue(key)
    assert list(issue)[:5] == ["id", "affectsVersions", "assignee", "attachmentNames", "components"]
    assert issue["key"] == key and issue["summary"] and issue["created"] is not None


def test_typed_and_untyped_parameters(sb):
    typed = post(sb, '<soap:login><in0 xsi:type="xsd:string">admin</in0>'
                     f'<in1 xsi:type="xsd:string">{sb.secret}</in1></soap:login>')
    untyped = post(sb, f"<soap:login><in0>admin</in0><in1>{sb.secret}</in1></soap:login>")
    assert typed.status_code == untyped.status_code == 200
    token = untyped.text.split("<loginReturn", 1)[1].split(">", 1)[1].split("<", 1)[0]
    found = post(sb, f'<soap:getIssuesFromJqlSearch><in0 xsi:type="xsd:string">{token}</in0>'
                     '<in1>created is not EMPTY ORDER BY key ASC</in1><in2 xsi:type="xsd:int">3</in2>'
                     "</soap:getIssuesFromJqlSearch>")
    assert found.status_code == 200
    assert 'soapenc:arrayType="ns2:RemoteIssue[3]"' in found.text and found.text.count("<multiRef ") >= 3
    assert found.text.index("<id ") < found.text.index("<affectsVersions") < found.text.index("<votes")


def test_faults(sb, loopback_only):
    with pytest.raises(JiraError, match="Invalid username or password"):
        SoapClient(sb.url, "admin", "wrong").login()
    r = post(sb, "<soap:getIssue><in0>not-a-token</in0><in1>X-1</in1></soap:getIssue>")
    assert r.status_code == 500 and "RemoteAuthenticationException" in r.text
    soap = SoapClient(sb.url, "admin", sb.secret)
    with pytest.raises(JiraError, match="does not exist"):
        soap.issue("NOPE-1")
    with pytest.raises(JiraError, match=r"at position 10 project = \^") as bad_jql:
        soap.search("project = ")
    assert "\n" not in str(bad_jql.value)        # the CLI prints it as one line
    with pytest.raises(JiraError, match="the search limit -1 is negative"):
        soap.search("created is not EMPTY", -1)
    assert soap.keys("created is not EMPTY", 0) == [] and len(soap.keys("created is not EMPTY", 3)) == 3


def test_without_the_wsdl_soap_still_answers(tmp_path):
    with serve(seed_issues=5, wsdl_dir=str(tmp_path)) as bare:
        assert requests.get(bare.url + "/rpc/soap/jirasoapservice-v2?wsdl").status_code == 404
        r = post(bare, f"<soap:login><in0>admin</in0><in1>{bare.secret}</in1></soap:login>")
        assert r.status_code == 200 and "loginReturn" in r.text
        with pytest.raises(JiraError, match="WSDL"):
            SoapClient(bare.url, "admin", bare.secret).login()


def test_the_encoding_schema_comes_from_labkit_not_the_internet(sb, loopback_only, monkeypatch):
    import labkit.jira.client.soap as soap

    assert soap.LOCAL_SCHEMAS[soap.SOAP_ENCODING_NS].is_file()
    monkeypatch.setattr(soap, "LOCAL_SCHEMAS", {})
    with pytest.raises(JiraError, match="does not load schemas from the internet"):
        SoapClient(sb.url, "admin", sb.secret).login()

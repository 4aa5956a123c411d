"""Defect 1: a SOAP parameter named ``in<N>`` made the sandbox build a list of N+1 entries.

A ~100-byte unauthenticated POST with ``<in50000000>`` grew the server by ~400 MB; ``in`` followed by
5,000 digits raised an unhandled ValueError (an HTML 500 and a traceback). The WSDL gives ``login``
two parameters (``loginRequest``: in0, in1) and no operation more than nine: anything beyond is a
SOAP fault, answered before any list is built.
"""

from __future__ import annotations

import tracemalloc

import pytest
import requests

from labkit.jira.sandbox.server import serve
from labkit.jira.sandbox.soap import SoapFault, SoapService

pytestmark = pytest.mark.unit

ENVELOPE = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:soap="http://soap.rpc.jira.atlassian.com"><soapenv:Body>{}</soapenv:Body></soapenv:Envelope>')


def login_with(param: str) -> bytes:
    """A login call whose only parameter is named ``param``."""
    return ENVELOPE.format(f"<soap:login><{param}>x</{param}></soap:login>").encode()


def test_a_huge_parameter_index_is_a_fault_without_building_a_list():
    tracemalloc.start()
    try:
        with pytest.raises(SoapFault, match="login has no parameter in5000000: it takes in0..in1"):
            SoapService.parse(login_with("in5000000"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, f"parsing a 200-byte call allocated {peak:,} bytes"


@pytest.mark.parametrize("param", ["in" + "9" * 5000, "in2", "in10", "in0001"])
def test_indexes_beyond_the_wsdl_are_faults(param):
    with pytest.raises(SoapFault, match="login has no parameter in"):
        SoapService.parse(login_with(param))


def test_the_indexes_the_wsdl_gives_still_work():
    body = ENVELOPE.format("<soap:login><in1>pw</in1><in0>admin</in0></soap:login>").encode()
    assert SoapService.parse(body) == ("login", ["admin", "pw"])
    positional = ENVELOPE.format("<soap:login><a>admin</a><b>pw</b></soap:login>").encode()
    assert SoapService.parse(positional) == ("login", ["admin", "pw"])


def test_more_parameters_than_the_operation_takes_are_a_fault():
    body = ENVELOPE.format("<soap:login>" + "<p>x</p>" * 100_000 + "</soap:login>").encode()
    with pytest.raises(SoapFault, match="login takes 2 parameter"):
        SoapService.parse(body)


@pytest.mark.integration
def test_the_server_answers_a_soap_fault_not_an_html_500():
    with serve(seed_issues=5) as sb:
        for param in ("in50000000", "in" + "7" * 5000):
            r = requests.post(sb.url + "/rpc/soap/jirasoapservice-v2", data=login_with(param),
                              headers={"Content-Type": "text/xml"}, timeout=30)
            assert r.status_code == 500 and r.headers["Content-Type"].startswith("text/xml"), r.text[:200]
            assert "<soapenv:Fault>" in r.text and "has no parameter" in r.text
        # the service still works afterwards
        ok = requests.post(sb.url + "/rpc/soap/jirasoapservice-v2", headers={"Content-Type": "text/xml"},
                           data=ENVELOPE.format(f"<soap:login><in0>admin</in0><in1>{sb.secret}</in1></soap:login>"),
                           timeout=30)
        assert ok.status_code == 200 and "loginReturn" in ok.text

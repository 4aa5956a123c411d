"""The comment's two formats and the profile derived from a plan, against Atlassian's and Eucalyptus's documented shapes."""

from __future__ import annotations

import pytest

from labkit.cloud import CloudError, adf_comment, profile_from_plan, region_for, wiki_comment
from tests.cloud.conftest import CLOUD, ISO, URI, adf_rows, wiki_rows

pytestmark = pytest.mark.unit

ROWS = [{"step": "1 review and test", "status": "fail", "detail": "conflict in calc.py | see [CALC-2] {code} *x* _y_"},
        {"step": "clean up", "status": "skip", "detail": None},
        {"step": "4 smoke test", "status": "pass", "detail": "multi\nline   text"}]
TEXT = [["step", "status", "detail"],
        ["1 review and test", "fail", "conflict in calc.py | see [CALC-2] {code} *x* _y_"],
        ["clean up", "skip", ""],  # a blank, never "None" (the table convention)
        ["4 smoke test", "pass", "multi line text"]]  # one line per cell


def test_wiki_markup_table_reads_back_with_every_character_as_written():
    body = wiki_comment(ROWS, title="labkit release check")
    lines = body.splitlines()
    # Atlassian's notation guide: "||heading 1||heading 2||heading 3||" then "|col A1|col A2|col A3|"
    assert lines[1] == "||step||status||detail||"
    assert all(line.startswith("|") and line.endswith("|") for line in lines[1:])
    assert "\\|" in lines[2] and "\\[CALC-2\\]" in lines[2] and "\\{code\\}" in lines[2]  # no link, no macro
    assert wiki_rows(body) == TEXT


def test_adf_table_has_the_documented_node_shapes_and_reads_back():
    doc = adf_comment(ROWS, title="labkit release check")
    assert doc["type"] == "doc" and doc["version"] == 1
    table = doc["content"][1]
    assert table["type"] == "table"
    header, *body = table["content"]
    assert {c["type"] for c in header["content"]} == {"tableHeader"}
    assert all({c["type"] for c in r["content"]} == {"tableCell"} for r in body)
    # a cell holds block content (a paragraph); an empty paragraph has no text node
    assert body[1]["content"][2]["content"] == [{"type": "paragraph", "content": []}]
    assert adf_rows(doc) == TEXT


def test_region_is_the_cloud_name_as_a_region():
    assert region_for("ciab1") == "ciab1"
    assert region_for("Cloud_2") == "cloud-2"
    with pytest.raises(CloudError):
        region_for("__")


@pytest.mark.parametrize("topology", ["ciab", "fe+nc"])
def test_profile_from_plan_puts_every_endpoint_at_the_frontend(topology):
    from labkit.vm import Lab

    plan = Lab.from_host(URI).plan_cloud(CLOUD, topology=topology, iso=ISO, **({"nodes": 2} if topology != "ciab"
                                                                                 else {}))
    fe = next(v for v in plan.vms if v.role in ("ciab", "frontend"))
    others = {v.ip for v in plan.vms} - {fe.ip}
    p = profile_from_plan(plan, access_key_id="AKIDEXAMPLE", secret_env="RC1_SECRET")
    assert p.region == CLOUD and p.name == CLOUD
    # Eucalyptus 4.x path-style layout: http://CLC:8773/services/compute, /services/objectstorage, ...
    assert p.endpoints["ec2"] == f"http://{fe.ip}:8773/services/compute"
    assert p.endpoints["s3"] == f"http://{fe.ip}:8773/services/objectstorage"
    assert all(u.startswith(f"http://{fe.ip}:8773/services/") for u in p.endpoints.values())
    assert not any(ip in u for ip in others for u in p.endpoints.values())

"""Issue 15, defect 12 (forge part): a PR number of 5,000 digits is a 400, not a closed connection and a traceback."""

from __future__ import annotations

import pytest
import requests

import labkit.sandbox as sandbox

pytestmark = [pytest.mark.integration]


@pytest.mark.parametrize("path", ["/demo/calc/pull/{n}", "/demo/calc/pull/{n}.patch", "/repos/demo/calc/pulls/{n}",
                                  "/api/v1/repos/demo/calc/pulls/{n}.patch"])
def test_a_5000_digit_pr_number_is_a_400(tmp_path, path):
    rd = tmp_path / "run"
    sandbox.start(["forge"], rd=rd)
    try:
        url = sandbox.url("forge", rd=rd)
        r = requests.get(url + path.format(n="7" * 5000), timeout=20)
        assert r.status_code == 400
        assert requests.get(url + path.format(n="1"), timeout=20).status_code == 200
    finally:
        sandbox.stop(["forge"], rd=rd)
    log = "\n".join(p.read_text(errors="replace") for p in rd.rglob("*.log"))
    assert "Traceback" not in log and "ValueError" not in log

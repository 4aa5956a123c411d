"""JiraClient.search on real issues equals the DataFrame built from the raw pages, fetched another way.

The oracle shares no HTTP or decoding code with the client: bare ``requests`` calls in another request
shape (Server/DC: ``startAt`` pages of 50; Cloud: ``search/jql`` token pages that carry the fields, no
bulkfetch), ``json.loads``, then each issue through ``normalise`` (the per-issue rule the client's
column builder must agree with) into ``to_dataframe``. Real data: the Appcelerator archive's ALOY project
(1,499 issues with links, components, labels, unassigned and unresolved ones).
"""

from __future__ import annotations

import json

import pytest
import requests

from labkit.jira.client.rest import JiraClient, base_fields, normalise, to_dataframe

from .test_store_helpers import real_sandbox

pytestmark = pytest.mark.integration


def oracle(url: str, auth: tuple[str, str], jql: str, fields: list[str], cloud: bool):
    """The search DataFrame from pages fetched with bare requests and decoded with json.loads."""
    issues: list[dict] = []
    with requests.Session() as s:
        s.auth = auth
        if cloud:
            token = None
            while True:
                body = {"jql": jql, "fields": fields, "maxResults": 50, **({"nextPageToken": token} if token else {})}
                page = json.loads(s.post(url + "/rest/api/3/search/jql", json=body, timeout=60).content)
                issues += page["issues"]
                token = page.get("nextPageToken")
                if not token:
                    break
        else:
            while True:
                body = {"jql": jql, "fields": fields, "startAt": len(issues), "maxResults": 50}
                page = json.loads(s.post(url + "/rest/api/2/search", json=body, timeout=60).content)
                issues += page["issues"]
                if not page["issues"] or len(issues) >= page["total"]:
                    break
    return to_dataframe([normalise(i, fields[-1]) for i in issues])


@pytest.mark.parametrize("mode", ["server", "cloud"])
def test_real_issues_search_equals_raw_pages_normalised(mode):
    import pandas as pd

    with real_sandbox("ALOY", mode) as real:
        client = JiraClient(real.url, real.auth, page_size=130, workers=3)
        fields = base_fields(client.rank_field)
        for jql in ["project = ALOY ORDER BY key ASC", "issueLinkType is not EMPTY ORDER BY created DESC",
                    "resolution is EMPTY ORDER BY key DESC"]:
            got = client.search(jql)
            want = oracle(real.url, real.auth, jql, fields, mode == "cloud")
            assert len(got) > 0, jql
            pd.testing.assert_frame_equal(got, want)
        assert len(client.search("project = ALOY")) >= 1000
        links = client.search("issueLinkType is not EMPTY")
        assert (links["blocked_by"].map(len) + links["blocks"].map(len)).sum() > 0  # real links made it through

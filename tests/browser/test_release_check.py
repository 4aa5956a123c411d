"""The release check runbook in a real browser: Run All goes through every step against the sandboxes, the page
ends in the final table, and the issue's comment holds the same rows."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

FINAL = ["1 review and test", "2 test cloud", "3 awscli profile", "4 smoke test", "clean up", "5 comment"]


def _final_rows(page):
    """Return the rows of the last table on the page whose first column is 'step' (or [])."""
    return page.evaluate("""() => {
        const tables = [...document.querySelectorAll('.jp-OutputArea-output table.labkit')]
            .filter(t => t.querySelector('th') && t.querySelector('th').innerText.trim() === 'step');
        if (!tables.length) return [];
        const t = tables[tables.length - 1];
        return [...t.querySelectorAll('tr')].map(tr => [...tr.querySelectorAll('th,td')].map(c => c.innerText.trim()));
    }""")


def test_release_check_runs_all_in_chromium(lab):
    from labkit.jira.client import JiraClient
    from labkit.sandbox import secret, url
    from tests.cloud.conftest import wiki_rows

    page = lab.open("08-release-check.ipynb")
    lab.run_all(page)
    rows = []
    for _ in range(600):  # JupyterLab draws cells only when scrolled into view: keep going to the bottom
        page.evaluate("() => document.querySelectorAll('.jp-WindowedPanel-outer').forEach(e => e.scrollTo(0, 1e9))")
        rows = _final_rows(page)
        if [r[0] for r in rows[1:]] == FINAL and all(r[1] != "dry run" for r in rows[1:]):
            break  # the final table, not the dry run's (same steps) drawn above it earlier
        page.wait_for_timeout(500)
    assert [r[0] for r in rows[1:]] == FINAL, rows
    assert all(r[1] == "pass" for r in rows[1:]), rows
    assert "not checkable on the sandbox" in rows[4][2]  # moto's addresses, said plainly
    rd = lab.root.parent / "run"
    with JiraClient(url("jira", rd=rd), ("admin", secret("jira", rd=rd))) as jira:
        body = jira.session.get("/rest/api/2/issue/DEMO-1/comment").json()["comments"][-1]["body"]
    assert wiki_rows(body) == rows
    assert not page.errors, page.errors

"""The JQL runbook in a real browser: run all, the words/phrase/proximity bar chart, the form's Run on a new query.

The expected counts come from the same sandbox read over REST, not from the form.
"""

from __future__ import annotations

import pytest

from tests.browser.runbook_dom import assert_form_text_visible, run_to_the_end, shoot
from tests.browser.tables_dom import assert_tables_readable

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

NOTEBOOK = "02-jql-search.ipynb"
QUERY = 'project = DEMO AND status = "In Progress" ORDER BY Rank ASC'


def test_jql_runbook_chart_and_form_run(lab, tmp_path):
    page = lab.open(NOTEBOOK)
    run_to_the_end(lab, page)
    form = ".labkit-jql"
    page.locator(f"{form} .labkit-jql-count b").wait_for(timeout=60_000)
    # the bar chart of words vs phrase vs proximity: three labelled bars, one per query
    chart = page.locator('.jp-Notebook figure.labkit-chart[title*="words vs phrase vs proximity"]')
    assert chart.count() == 1
    assert "within 10 words" in chart.inner_text() and "phrase" in chart.inner_text()
    shoot(page, tmp_path, "02-after-run-all")

    import labkit.sandbox as sandbox
    from labkit.jira.client import JiraClient

    rd = lab.root.parent / "run"
    jira = JiraClient(sandbox.url("jira", rd=rd), ("admin", sandbox.secret("jira", rd=rd)), progress=False)
    try:
        expected = jira.count(QUERY)
    finally:
        jira.close()
    assert expected > 0, "the sandbox's demo data has issues in progress"
    page.locator(f"{form} .labkit-jql-query textarea").fill(QUERY)
    page.locator(f"{form} .widget-button.labkit-jql-run").click()
    page.wait_for_function(
        "(n) => document.querySelector('.labkit-jql .labkit-jql-count b')?.innerText === String(n)",
        arg=expected, timeout=60_000)
    rows = page.locator(f"{form} .labkit-jql-table table tbody tr")
    page.wait_for_function(  # the table is replaced after the count: wait for the new rows
        "() => { const r = [...document.querySelectorAll('.labkit-jql .labkit-jql-table table tbody tr')];"
        " return r.length > 0 && r.every(x => x.innerText.includes('In Progress')) }", timeout=60_000)
    assert rows.count() == min(expected, 20)
    assert page.locator(f"{form} .labkit-jql-comparison table tbody tr").count() == 2   # words, phrase
    assert_form_text_visible(page, form)
    assert_tables_readable(page, ".jp-Notebook", at_least=6)
    assert "re-run this cell" in page.locator(".jp-Notebook").inner_text()
    shoot(page, tmp_path, "02-form-run", form)
    assert not page.errors, page.errors

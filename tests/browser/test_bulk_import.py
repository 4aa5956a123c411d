"""The bulk-import runbook in a real browser: run all, the server check is shown and the rerun counts what it resumed.

Runbook 07 imports its demo export, then runs again through the same journal: the second run creates nothing and
says how many issues the first run made.
"""

from __future__ import annotations

import pytest

from tests.browser.runbook_dom import run_to_the_end, shoot
from tests.browser.tables_dom import assert_tables_readable

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

NOTEBOOK = "07-bulk-import.ipynb"
N = 300  # the notebook's n_tickets


def test_bulk_import_runbook_shows_the_server_check_and_resumed_issues(lab, tmp_path):
    page = lab.open(NOTEBOOK)
    run_to_the_end(lab, page)
    last = page.locator(".jp-Notebook .jp-CodeCell").last
    check = last.locator("table", has=page.locator("caption", has_text="Server check"))
    check.wait_for(timeout=60_000)
    cells = [r.split("\t") for r in check.locator("tbody tr").all_inner_texts()]
    assert [c[1:] for c in cells] == [["50", "50"], ["50", "50"]], cells
    final = last.locator("table").last
    header = final.locator("thead th").all_inner_texts()
    assert header[:3] == ["measure", "first run", "rerun"], header
    measures = {r.split("\t")[0]: r.split("\t")[1:] for r in final.locator("tbody tr").all_inner_texts()}
    assert measures["issues created"] == [str(N), "0"]
    assert measures["issues made by an earlier run (journal)"] == ["0", str(N)]
    assert_tables_readable(page, ".jp-Notebook", at_least=4)
    shoot(page, tmp_path, "07-runbook")
    assert not page.errors, page.errors

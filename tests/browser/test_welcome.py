"""The welcome runbook in a real browser: no news pop-up, run all, the status form renders, Refresh updates it."""

import pytest

from tests.browser.runbook_dom import assert_form_text_visible
from tests.browser.tables_dom import assert_tables_readable

NEWS = "Would you like to get notified about official Jupyter news?"

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_welcome_status_form_refreshes(lab, tmp_path):
    page = lab.open("00-welcome.ipynb", offline=True)
    assert NEWS not in page.locator("body").inner_text()
    lab.run_all(page)
    services = page.locator(".labkit-status-services table.dataframe tbody tr")
    services.first.wait_for(timeout=120_000)
    message = page.locator(".labkit-status-message")
    page.wait_for_function("document.querySelector('.labkit-status-message')?.innerText.includes('refresh #')",
                           timeout=60_000)
    before = message.inner_text()
    page.locator(".jp-OutputArea-output .widget-button.labkit-status-refresh").click()
    page.wait_for_function(
        "(b) => { const t = document.querySelector('.labkit-status-message').innerText; return t && t !== b }",
        arg=before, timeout=30_000)
    after = message.inner_text()
    assert "refresh #" in after and after != before
    rows = [r.inner_text() for r in services.all()]
    assert any("aws" in r and "running" in r for r in rows), rows
    env_rows = page.locator(".labkit-status table.dataframe tbody tr").all_inner_texts()
    assert any("libvirt: test:///default" in r for r in env_rows)
    assert "re-run this cell" in page.locator(".jp-Cell").nth(3).locator(".jp-Cell-outputArea").inner_text()
    assert_tables_readable(page, ".jp-Notebook", at_least=3)
    assert_form_text_visible(page, ".labkit-status")
    assert NEWS not in page.locator("body").inner_text()
    assert page.requests_refused == [], page.requests_refused
    shot = tmp_path / "welcome.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert not page.errors, page.errors

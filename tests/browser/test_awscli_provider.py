"""The awscli provider runbook in a real browser: run all, then the form's Preview and Verify on its own defaults.

The form starts from the notebook's values with nothing set by the user; Verify shows checks done / total while
it runs and ends in the check table.
"""

from __future__ import annotations

import pytest

from tests.browser.runbook_dom import assert_form_text_visible, run_to_the_end, shoot
from tests.browser.tables_dom import assert_tables_readable

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

NOTEBOOK = "04-awscli-provider.ipynb"


def test_awscli_runbook_form_previews_and_verifies(lab, tmp_path):
    page = lab.open(NOTEBOOK)
    run_to_the_end(lab, page)
    form = ".labkit-aws"
    page.locator(f"{form} .widget-button.labkit-aws-preview").wait_for(timeout=60_000)
    assert_form_text_visible(page, form)

    page.locator(f"{form} .widget-button.labkit-aws-preview").click()
    status = page.locator(f"{form} .labkit-aws-status")
    page.wait_for_function("document.querySelector('.labkit-aws .labkit-aws-status')?.innerText.includes('secret:')",
                           timeout=60_000)
    assert "error" not in status.inner_text(), status.inner_text()
    assert "nothing to change" in status.inner_text()   # the notebook wrote this very profile above

    page.locator(f"{form} .widget-button.labkit-aws-verify").click()
    # progress while it runs: "n / total" on the bar, then the check table
    page.wait_for_function("/\\d+ \\/ \\d+/.test(document.querySelector('.labkit-aws .labkit-aws-progress')"
                           "?.innerText || '')", timeout=60_000)
    rows = page.locator(f"{form} .labkit-aws-output table tbody tr")
    rows.first.wait_for(timeout=180_000)
    page.wait_for_function("document.querySelector('.labkit-aws .labkit-aws-status')?.innerText.includes('checks passed')",
                           timeout=60_000)
    assert " 0 failed" in status.inner_text(), status.inner_text()
    assert rows.count() >= 10
    assert_tables_readable(page, ".jp-Notebook", at_least=5)
    assert_form_text_visible(page, form)
    shoot(page, tmp_path, "04-form-verified", form)
    shoot(page, tmp_path, "04-runbook")
    assert not page.errors, page.errors

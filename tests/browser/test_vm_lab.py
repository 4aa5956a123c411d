"""The VM lab runbook in a real browser: run all, then Plan and a dry-run Launch fill the form's tables, and the
launch result comes to the front; the packet path fits the page, tables and form text read in full."""

import pytest

from labkit.forms.notes import RERUN_NOTE
from tests.browser.runbook_dom import assert_form_text_visible, run_to_the_end, shoot
from tests.browser.tables_dom import assert_tables_readable

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

SVG_FITS = """
() => Array.from(document.querySelectorAll('.jp-Notebook .jp-OutputArea-output svg')).filter(s => s.querySelector('g.hop') && s.getClientRects().length)
  .map(s => ({svg: s.getBoundingClientRect().width, box: s.closest('.jp-OutputArea-output').clientWidth}))
"""


def test_vm_lab_form_plans_and_dry_runs_a_launch(lab, tmp_path):
    page = lab.open("01-cloud-in-a-box.ipynb")
    run_to_the_end(lab, page)
    # the packet paths (two in the runbook, one in the form) are scaled to the page, never wider than their output
    paths = page.evaluate(SVG_FITS)
    assert len(paths) >= 2 and all(0 < p["svg"] <= p["box"] + 1 for p in paths), paths
    assert RERUN_NOTE in page.locator(".jp-Notebook").inner_text()
    plan_button = page.locator(".jp-OutputArea-output .widget-button.labkit-vm-plan")
    plan_button.wait_for(timeout=120_000)
    assert_form_text_visible(page, ".labkit-vm")
    plan_button.click()
    rows = page.locator(".labkit-vm-plan-output table.dataframe tbody tr")
    rows.first.wait_for(state="attached", timeout=60_000)
    assert rows.count() == 1 and "form1-ciab" in rows.first.text_content()
    checks = page.locator(".labkit-vm-checks-output table.dataframe tbody tr")
    checks.nth(8).wait_for(state="attached", timeout=60_000)
    assert checks.count() == 9
    page.locator(".jp-OutputArea-output .widget-button.labkit-vm-launch").click()
    conn = page.locator(".labkit-vm-connections-output table.dataframe tbody tr")
    conn.first.wait_for(state="attached", timeout=60_000)
    text = conn.first.text_content()
    assert "8443" in text and "8888" in text and "vnc://127.0.0.1:59" in text
    status = page.locator(".labkit-vm-status").inner_text()
    assert "dry run of cloud form1" in status
    # the launch steps are what the user sees after Launch
    current = page.locator(".jp-OutputArea-output .widget-tab .lm-TabBar-tab.lm-mod-current")
    assert current.inner_text().strip() == "Launch"
    steps = page.locator(".labkit-vm-launch-output table.dataframe tbody tr")
    assert steps.first.is_visible() and "define" in page.locator(".labkit-vm-launch-output").inner_text()
    assert page.locator(".labkit-vm-path-output svg g.hop").count() == 7
    assert_form_text_visible(page, ".labkit-vm")
    assert_tables_readable(page, ".jp-Notebook", at_least=15)
    shoot(page, tmp_path, "01-form-launch", ".labkit-vm")
    shoot(page, tmp_path, "01-runbook")
    assert not page.errors, page.errors

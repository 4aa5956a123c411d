"""The VM lab runbook in a real browser: run all, then Plan and a dry-run Launch fill the form's tables, and the
launch result comes to the front."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_vm_lab_form_plans_and_dry_runs_a_launch(lab):
    page = lab.open("01-cloud-in-a-box.ipynb")
    lab.run_all(page)
    plan_button = page.locator(".jp-OutputArea-output .widget-button.labkit-vm-plan")
    plan_button.wait_for(timeout=120_000)
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
    assert not page.errors, page.errors

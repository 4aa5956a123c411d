"""The PR review runbook in a real browser: the diff view navigates commits and switches views; buttons work."""

import pytest

from labkit.forms.notes import RERUN_NOTE
from tests.browser.runbook_dom import assert_form_text_visible, shoot
from tests.browser.tables_dom import assert_tables_readable

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_pr_review_diff_view_and_form(lab, tmp_path):
    page = lab.open("05-pr-review.ipynb")
    lab.run_all(page)
    view = page.locator(".lk-dv").first
    view.wait_for(timeout=120_000)
    title = view.locator(".lk-dv-title")
    assert "1/2" in title.inner_text() and "Add mul()" in title.inner_text()
    files = view.locator(".lk-dv-files li.lk-dv-file")
    assert "calc.py" in files.first.inner_text()
    assert view.locator("table.lk-dv-unified tr.lk-dv-add").count() >= 3
    assert view.locator(".lk-dv-check.lk-dv-fail").count() >= 1  # commit 1 has no CALC- issue ID
    view.locator("button.lk-dv-next").click()
    page.wait_for_function("document.querySelector('.lk-dv-title').innerText.includes('2/2')", timeout=30_000)
    assert "test mul()" in title.inner_text()
    view.locator("button.lk-dv-mode-split").click()
    view.locator("table.lk-dv-split").wait_for(timeout=30_000)
    assert view.locator("table.lk-dv-split td.lk-dv-add").count() >= 1
    view.locator(".lk-dv-files li.lk-dv-file").first.click()
    page.wait_for_function("document.querySelectorAll('.lk-dv-filehead').length === 1", timeout=30_000)
    page.locator(".jp-OutputArea-output .widget-button.labkit-review-amend").click()
    page.wait_for_function(
        "[...document.querySelectorAll('.labkit-review-table table.dataframe td')]"
        ".some(td => td.innerText === 'CALC-7: Add mul()')", timeout=60_000)
    assert_form_text_visible(page, ".labkit-review")
    assert page.locator(".labkit-review select").first.input_value() == "merge commit"   # the notebook's merge = "merge"
    page.locator(".jp-OutputArea-output .widget-button.labkit-review-merge").click()  # dry run by default
    page.wait_for_function("document.querySelector('.labkit-review-message').innerText.startsWith('planned')",
                           timeout=60_000)
    # the form's Revisions tab: compare PR #1 has no force-push -> a message; the runbook's own range-diff view
    page.locator(".jp-OutputArea-output .lm-TabBar-tab", has_text="Revisions").first.click()
    page.locator(".jp-OutputArea-output .widget-button.labkit-review-compare").click()
    page.wait_for_function("document.querySelector('.labkit-review-message').innerText.includes('never force-pushed')",
                           timeout=60_000)
    rng = page.locator(".lk-dv-range-title")
    for _ in range(40):  # JupyterLab draws cells only when they are scrolled into view
        if rng.count():
            break
        page.keyboard.press("PageDown")
        page.wait_for_timeout(250)
    rng.first.wait_for(timeout=60_000)
    view = rng.first.locator("xpath=ancestor::*[contains(concat(' ', normalize-space(@class), ' '), ' lk-dv ')][1]")
    assert "1 changed" in rng.first.inner_text() and "1 added" in rng.first.inner_text()
    assert view.locator("li.lk-dv-range-changed.lk-dv-sel").count() == 1
    assert view.locator("table.lk-dv-interdiff tr.lk-dv-add").count() >= 2  # the two new lines of div()
    view.locator("li.lk-dv-range-unchanged").click()
    view.locator(".lk-dv-pane", has_text="the same patch in both revisions").wait_for(timeout=30_000)
    # (the merge of the last cell is asserted headless in tests/review/test_notebook.py: JupyterLab
    # does not draw cells scrolled out of view)
    shot = tmp_path / "review.png"
    view.screenshot(path=str(shot))
    assert shot.stat().st_size > 5_000
    lab.wait_kernel_idle("05-pr-review.ipynb", page)
    assert RERUN_NOTE in page.locator(".jp-Notebook").inner_text()
    assert_tables_readable(page, ".jp-Notebook", at_least=8)
    shoot(page, tmp_path, "05-runbook")
    assert not page.errors, page.errors

"""The rank board in a real browser, on the Jira sandbox: notebook 03 renders it, Apply empties the violations list.

JupyterLab + Debian chromium (the ``lab`` fixture) run notebooks/03-rank-analysis.ipynb, which starts
the Jira sandbox in the lab's private run dir and adds Blocks links against the rank. The test reads
the same sandbox over REST to know what the board must show, clicks Apply, checks the board and the
server, then Undo (the original order, issue by issue) and one drag-to-rank.
"""

from __future__ import annotations

import pytest

from labkit.forms.notes import RERUN_NOTE
from labkit.rank import blocks_graph, count_violations, violations
from tests.browser.tables_dom import assert_tables_readable

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

NOTEBOOK = "03-rank-analysis.ipynb"
JQL = "project = DEMO ORDER BY Rank ASC"    # the notebook's default parameter
VROWS = ".lk-rankboard .lk-rb-violations .lk-rb-vrow"


def server_state(client):
    order = client.backlog_order(JQL)
    graph = blocks_graph(client.search_issues(JQL, ["issuelinks", "status", "summary"], progress=False))
    return order, graph


def wait_count(page, selector: str, n: int) -> None:
    page.wait_for_function(f"document.querySelectorAll({selector!r}).length === {n}", timeout=60_000)


def test_rank_board_on_the_sandbox_apply_undo_and_drag(lab, tmp_path):
    page = lab.open(NOTEBOOK)
    lab.run_all(page)
    page.locator(VROWS).first.wait_for(timeout=120_000)
    # the whole notebook has run (its own apply + undo included) when its last cell shows the final table
    page.locator(".jp-Notebook .jp-Cell").last.locator(".jp-OutputArea-output table").wait_for(timeout=120_000)
    lab.wait_kernel_idle(NOTEBOOK)
    import labkit.sandbox as sandbox
    from labkit.jira.client import JiraClient

    rd = lab.root.parent / "run"
    jira = JiraClient(sandbox.url("jira", rd=rd), ("admin", sandbox.secret("jira", rd=rd)), progress=False)
    try:
        original, graph = server_state(jira)
        report = violations(original, graph)
        assert len(report) >= 7, "the notebook's seeded links should give the board violations to fix"
        wait_count(page, VROWS, len(report))
        assert page.locator(".lk-rb-item").count() == len(original)
        assert page.locator(".lk-rb-item.lk-rb-violation").count() == len(report.issues)
        assert page.locator(".lk-rb-badge-move").count() == page.locator(".lk-rb-moves tr").count() - 1 >= 1
        assert_tables_readable(page, ".jp-Notebook", at_least=8)
        assert RERUN_NOTE in page.locator(".jp-Notebook").inner_text()
        page.screenshot(path=str(tmp_path / "runbook.png"), full_page=True)
        page.locator(".lk-rankboard").scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "before.png"))

        page.locator(".lk-rankboard button.labkit-rank-apply").click()
        wait_count(page, VROWS, 0)
        wait_count(page, ".lk-rb-item.lk-rb-violation", 0)
        assert page.locator(".lk-rb-violations .lk-rb-empty").is_visible()
        page.wait_for_function("document.querySelector('.lk-rb-message')?.innerText.includes('no violation left')",
                               timeout=30_000)
        applied, graph = server_state(jira)
        assert applied != original and count_violations(applied, graph) == 0      # on the server, not just drawn
        page.screenshot(path=str(tmp_path / "applied.png"))

        page.locator(".lk-rankboard button.labkit-rank-undo").click()
        wait_count(page, VROWS, len(report))
        page.wait_for_function("document.querySelector('.lk-rb-message')?.innerText.includes('original order')",
                               timeout=30_000)
        assert jira.backlog_order(JQL) == original                                 # issue by issue
        assert page.locator(".lk-rb-item .lk-rb-key").all_inner_texts() == original

        # drag the nearest late blocker onto the upper half of the issue it blocks: one manual rank call
        v = min((v for v in report if v.direct), key=lambda v: v.blocker_position - v.position)
        source = page.locator(f'.lk-rb-item[data-key="{v.blocker}"]')
        target = page.locator(f'.lk-rb-item[data-key="{v.issue}"]')
        target.scroll_into_view_if_needed()
        source.drag_to(target, target_position={"x": 20, "y": 2})
        page.wait_for_function(
            f"document.querySelector('.lk-rb-list [data-key=\"{v.blocker}\"] + [data-key=\"{v.issue}\"]')",
            timeout=30_000)
        dragged = jira.backlog_order(JQL)
        assert dragged.index(v.blocker) == dragged.index(v.issue) - 1
        assert page.locator(VROWS).count() < len(report)
    finally:
        jira.close()
    assert not page.errors, page.errors

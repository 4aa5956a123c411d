"""The rank board in a real browser: it renders in JupyterLab, Apply empties the violations list, Undo and drag work.

Runs on an OFFLINE in-memory backlog (labkit.rank.ListRankClient) written as a scratch notebook;
the sandbox version (notebooks/03-rank-analysis.ipynb against the Jira sandbox) comes with issue 4.
"""

from __future__ import annotations

import nbformat
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

BOARD_CELL = '''\
# OFFLINE rehearsal: an in-memory backlog (ListRankClient), not a Jira server.
from labkit.rank import ListRankClient
from labkit.rank.widget import RankBoard

order = [f"LAB-{i}" for i in range(1, 9)]
blocks = [("LAB-8", "LAB-2"), ("LAB-7", "LAB-1"), ("LAB-1", "LAB-3"), ("LAB-6", "LAB-5")]
client = ListRankClient(order)
board = RankBoard(client, "project = LAB ORDER BY Rank ASC", blocks, "rank-board-undo.json",
                  summaries={k: f"issue {k}" for k in order})
board
'''


@pytest.fixture
def board_notebook(lab):
    name = "zz-rank-board-offline.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("", metadata={"tags": ["parameters"]}), nbformat.v4.new_code_cell(BOARD_CELL)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = lab.root / name
    nbformat.write(nb, path)
    yield name
    path.unlink(missing_ok=True)
    (lab.root / "rank-board-undo.json").unlink(missing_ok=True)


def keys(page):
    return page.locator(".lk-rb-item .lk-rb-key").all_inner_texts()


def test_rank_board_apply_undo_and_drag(lab, board_notebook, tmp_path):
    page = lab.open(board_notebook)
    lab.run_all(page)
    vrows = page.locator(".lk-rankboard .lk-rb-violations .lk-rb-vrow")
    vrows.first.wait_for(timeout=120_000)
    assert vrows.count() == 4            # 3 direct, and LAB-3 above LAB-7 which blocks it through LAB-1
    assert page.locator(".lk-rb-item.lk-rb-violation").count() == 4
    assert page.locator(".lk-rb-blocker.lk-rb-blocker-late").count() == 3
    assert page.locator(".lk-rb-badge-move").count() == page.locator(".lk-rb-moves tr").count() - 1 >= 3
    page.screenshot(path=str(tmp_path / "before.png"), full_page=True)

    page.locator(".lk-rankboard button.labkit-rank-apply").click()
    page.wait_for_function("document.querySelectorAll('.lk-rankboard .lk-rb-vrow').length === 0 && "
                           "document.querySelectorAll('.lk-rb-item.lk-rb-violation').length === 0", timeout=30_000)
    assert page.locator(".lk-rb-violations .lk-rb-empty").is_visible()
    page.wait_for_function("document.querySelector('.lk-rb-message')?.innerText.includes('no violation left')",
                           timeout=30_000)
    applied = keys(page)
    assert applied.index("LAB-8") < applied.index("LAB-2") and applied.index("LAB-7") < applied.index("LAB-1")

    page.locator(".lk-rankboard button.labkit-rank-undo").click()
    page.wait_for_function("document.querySelectorAll('.lk-rankboard .lk-rb-vrow').length === 4 && "
                           "document.querySelectorAll('.lk-rb-item.lk-rb-violation').length === 4", timeout=30_000)
    assert keys(page) == [f"LAB-{i}" for i in range(1, 9)]

    # drag LAB-6 onto the upper half of LAB-5: one manual rank call, that violation goes away
    source = page.locator('.lk-rb-item[data-key="LAB-6"]')
    target = page.locator('.lk-rb-item[data-key="LAB-5"]')
    source.drag_to(target, target_position={"x": 20, "y": 2})
    page.wait_for_function("document.querySelectorAll('.lk-rankboard .lk-rb-vrow').length === 3 && "
                           "document.querySelector('.lk-rb-list [data-key=\"LAB-6\"] + [data-key=\"LAB-5\"]')",
                           timeout=30_000)
    after = keys(page)
    assert after.index("LAB-6") == after.index("LAB-5") - 1
    assert not page.errors, page.errors

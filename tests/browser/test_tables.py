"""Tables in a real browser: the convention's HTML reads in full, the DOM check catches what does not,
and long tables page and search with no network at all (itables' bundle comes inside the output)."""

from __future__ import annotations

import pytest

from tests.browser.tables_dom import assert_tables_readable, table_problems

pytestmark = [pytest.mark.browser, pytest.mark.integration]

LONG_FIX = "virsh net-define /etc/libvirt/qemu/networks/labkit-br0.xml && virsh net-autostart labkit-br0 " * 3


@pytest.fixture
def offline_page(chromium):
    """A 1400 px wide page that can reach nothing: every request is refused and recorded."""
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.requests_tried = []

    def refuse(route):
        page.requests_tried.append(route.request.url)
        route.abort()

    page.route("**/*", refuse)
    yield page
    page.close()


def frame():
    import numpy as np
    import pandas as pd

    return pd.DataFrame({"check": ["bridge", "kvm", "disk"], "status": ["fail", "ok", None],
                         "fix": [LONG_FIX, "", np.nan], "free_gb": [1.5, np.nan, 120.0],
                         "detail": ["x" * 300, "a, b", None]})


def test_the_convention_reads_in_full_and_the_dom_check_agrees(offline_page):
    from labkit import tables

    offline_page.set_content(f"<html><body style='width:1000px'>{tables.html(frame())}</body></html>")
    assert assert_tables_readable(offline_page) == 1
    fix = offline_page.locator("td.labkit-text").first
    assert fix.inner_text() == LONG_FIX.strip() or fix.inner_text().replace("\n", " ").strip() == LONG_FIX.strip()


def test_the_dom_check_catches_cut_text_and_nan(offline_page):
    import pandas as pd

    with pd.option_context("display.max_colwidth", 30):
        cut = frame()._repr_html_()  # as a notebook shows it: long text cut with "...", NaN printed
    squeezed = ('<table><thead><tr><th>message</th></tr></thead><tbody><tr><td style="max-width:80px;'
                'white-space:nowrap;overflow:hidden;text-overflow:ellipsis">' + "y" * 200 + "</td></tr></tbody></table>")
    offline_page.set_content(f"<html><body>{cut}{squeezed}</body></html>")
    count, problems = table_problems(offline_page)
    assert count == 2
    text = "\n".join(problems)
    assert 'column "fix": text ends in an ellipsis' in text
    assert 'column "detail": text ends in an ellipsis' in text
    assert 'column "free_gb": shows "NaN"' in text
    assert 'table 2, column "message": content' in text  # the CSS-squeezed cell: wider content than its box
    with pytest.raises(AssertionError, match="tables that do not read well"):
        assert_tables_readable(offline_page)


def test_a_long_table_pages_and_searches_offline(offline_page):
    from labkit import tables

    rows = [{"key": f"DEMO-{i}", "summary": f"issue {i}", "reason": "blocked by " + ", ".join(
        f"DEMO-{j}" for j in range(i % 7 + 1)) + " because the rank places it above what it blocks",
        "hours": i / 3} for i in range(1, 46)]
    offline_page.set_content(f"<html><body>{tables.html(rows, init=True)}</body></html>")
    body = offline_page.locator("table.dataTable tbody tr")
    body.first.wait_for(timeout=30_000)
    assert body.count() == 20  # the first page of 45
    assert "Showing 1 to 20 of 45 entries" in offline_page.locator(".dt-info").inner_text()
    offline_page.locator(".dt-search input").fill("DEMO-44")
    offline_page.wait_for_function("document.querySelectorAll('table.dataTable tbody tr').length === 1")
    assert "DEMO-44" in body.first.inner_text()
    offline_page.locator(".dt-search input").fill("")
    assert_tables_readable(offline_page, "table.dataTable")
    assert offline_page.requests_tried == [], offline_page.requests_tried


@pytest.mark.slow
def test_tables_in_jupyterlab_cells_and_form_outputs_page_offline(lab):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    rows = ("rows = [{'key': f'DEMO-{i}', 'command': 'labkit rank apply --jql \"project = DEMO\" --journal j.json '"
            " * 2, 'wait_days': i / 3 if i % 4 else None} for i in range(1, 46)]")
    nb = new_notebook(cells=[
        new_code_cell(f"from labkit import tables\n{rows}\ntables.show(rows)"),
        new_code_cell("import ipywidgets as w\nout = w.Output()\nout.add_class('labkit-form-out')\ndisplay(out)\n"
                      "with out:\n    tables.show(rows[:25])\n    tables.show(rows[:3])"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / "tables-offline.ipynb")
    page = lab.open("tables-offline.ipynb", offline=True)
    lab.run_all(page)
    page.locator(".widget-output.labkit-form-out table.dataTable tbody tr").first.wait_for(timeout=60_000)
    cell_table = page.locator(".jp-Cell").nth(0).locator("table.dataTable tbody tr")
    assert cell_table.count() == 20
    form_tables = page.locator(".widget-output.labkit-form-out table.labkit")
    assert form_tables.count() >= 2  # a paged one and a plain one
    assert page.locator(".widget-output.labkit-form-out table.dataTable tbody tr").count() == 20
    assert_tables_readable(page, ".jp-Notebook", at_least=3)
    page.screenshot(path=str(lab.root.parent / "tables-offline.png"), full_page=True)
    assert page.requests_refused == [], page.requests_refused
    assert not page.errors, page.errors

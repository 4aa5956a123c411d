"""Runbook 06 in JupyterLab and the HTML flow report in chromium: every chart drawn (an SVG of non-zero size),
titled (its title is text inside it), and every table readable.

The runbook starts the Jira sandbox in the lab's run dir and measures its generated histories; the
report is written by ``labkit report`` from an in-process sandbox and opened from disk with every
network request refused, so it is shown to be self-contained.
"""

from __future__ import annotations

import pytest

from tests.browser.tables_dom import assert_tables_readable

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

NOTEBOOK = "06-tracker-analytics.ipynb"
RUNBOOK_CHARTS = ["Cycle time", "Cycle time distribution", "Weekly throughput", "Cumulative flow",
                  "Ageing work in progress", "How many items by", "When will 20 items be done", "When will DEMO-"]
REPORT_CHARTS = ["Cycle time", "Cycle time distribution", "Weekly throughput", "Cumulative flow",
                 "Ageing work in progress", "How many items by", "When will"]

CHARTS_JS = """
() => Array.from(document.querySelectorAll('figure.labkit-chart')).map(f => {
  const svg = f.querySelector('svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  const texts = svg ? Array.from(svg.querySelectorAll('text')).map(t => t.textContent.trim()) : [];
  return {label: f.getAttribute('aria-label'), width: box.width, height: box.height, texts};
})
"""


def check_charts(page, expected: list[str]) -> list[dict]:
    """Every chart has a drawn SVG and shows its title; every expected title (a prefix) is among them."""
    charts = page.evaluate(CHARTS_JS)
    for c in charts:
        assert c["width"] > 100 and c["height"] > 100, c["label"]
        assert c["label"] in c["texts"], f"chart {c['label']!r} does not show its title: {c['texts'][:8]}"
    labels = [c["label"] for c in charts]
    for want in expected:
        assert any(label.startswith(want) for label in labels), f"no chart titled {want!r}: {labels}"
    return charts


def test_runbook_06_draws_every_chart_titled(lab, tmp_path):
    page = lab.open(NOTEBOOK)
    lab.run_all(page)
    last = page.locator(".jp-Notebook .jp-Cell").last.locator(".jp-OutputArea-output table")
    last.wait_for(timeout=300_000)
    lab.wait_kernel_idle(NOTEBOOK, page)
    assert not page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']") \
        .filter(has_text="Traceback").count()
    page.locator("figure.labkit-chart").last.scroll_into_view_if_needed()
    charts = check_charts(page, RUNBOOK_CHARTS)
    assert len(charts) >= len(RUNBOOK_CHARTS)
    assert assert_tables_readable(page, ".jp-Notebook", at_least=10) >= 10
    text = last.inner_text()
    assert "changelogs completed by paging" in text and "cycle time p85 (days)" in text
    weekly = next(c for c in charts if c["label"] == "Weekly throughput")
    assert "4-week rolling mean" in weekly["texts"]          # bars with the rolling mean over them
    page.screenshot(path=str(tmp_path / "06-runbook.png"), full_page=True)


@pytest.fixture
def report_file(run_dir, tmp_path, monkeypatch):
    """A report written by ``labkit report`` against the sandbox (started as a user would)."""
    import labkit.sandbox as sandbox
    from labkit.cli import main

    monkeypatch.setenv("LABKIT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("LABKIT_JIRA_SEED_ISSUES", "300")
    monkeypatch.delenv("LABKIT_PROFILE", raising=False)
    sandbox.start(["jira"])
    out = tmp_path / "flow-report.html"
    assert main(["report", "--jql", "project = DEMO", "--board", "1", "--out", str(out), "--trials", "2000",
                 "--release", "DEMO-4"]) == 0
    return out


def test_the_html_report_opens_offline_with_every_chart_titled(chromium, report_file):
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    refused = []

    def guard(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(report_file.as_uri())
        page.wait_for_load_state("load")
        charts = check_charts(page, REPORT_CHARTS)
        assert len(charts) >= 8
        assert assert_tables_readable(page, at_least=8) >= 8
        assert page.title().startswith("Flow report") and not refused and not errors
    finally:
        page.close()

"""Drive a runbook in JupyterLab and check what a reader sees: run all to the end, form text in full, screenshots.

    from tests.browser.runbook_dom import run_to_the_end, assert_form_text_visible, shoot
    page = lab.open("02-jql-search.ipynb")
    run_to_the_end(lab, page)                          # Run All, wait for the last cell; no error output
    assert_form_text_visible(page, ".labkit-jql")      # no label, button or tab cut (scrollWidth <= clientWidth)
    shoot(page, tmp_path, "02-after-run")              # a full-page screenshot kept with the test's artifacts
"""

from __future__ import annotations

from pathlib import Path

# Every piece of form text ipywidgets may cut with an ellipsis: descriptions, labels, buttons, toggles, tab titles.
FORM_TEXT = (".widget-label", ".widget-label-basic", ".widget-button", ".widget-toggle-button",
             ".widget-tab .lm-TabBar-tabLabel")

_DONE = r"""
() => {
  const prompts = Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt'));
  if (!prompts.length || prompts.some(p => p.innerText.includes('*'))) return false;
  const errors = document.querySelectorAll('.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
  const failed = Array.from(errors).some(e => e.innerText.includes('Traceback') || /\w+Error\b/.test(e.innerText));
  return failed || /\[\d+\]/.test(prompts[prompts.length - 1].innerText);
}
"""

_CUT = r"""
([scope, selectors]) => {
  const problems = [];
  for (const root of document.querySelectorAll(scope)) {
    for (const el of root.querySelectorAll(selectors.join(','))) {
      if (el.getClientRects().length === 0 || !el.innerText.trim()) continue;  // hidden (another tab) or empty
      if (el.scrollWidth > el.clientWidth + 1)
        problems.push(`${el.className.split(' ')[0]} ${JSON.stringify(el.innerText.trim())}: ` +
                      `${el.scrollWidth}px of text in ${el.clientWidth}px`);
    }
  }
  return problems;
}
"""


def cell_errors(page) -> list[str]:
    """Return the text of every error output (a traceback) in the open notebook."""
    return [t for t in page.locator(".jp-Notebook .jp-OutputArea-output").all_inner_texts()
            if "Traceback" in t or "Error" in t.split("\n", 1)[0]]


def run_to_the_end(lab, page, timeout_s: float = 600) -> None:
    """Run all cells and wait until the last code cell has run (or a cell failed); assert no cell failed."""
    lab.run_all(page)
    page.wait_for_function(_DONE, timeout=timeout_s * 1000, polling=500)
    errors = [e for e in cell_errors(page) if "Traceback" in e]
    assert not errors, "a cell failed:\n" + errors[0][-3000:]


def form_text_cut(page, scope: str) -> list[str]:
    """Return the labels, buttons, toggles and tab titles under ``scope`` whose text is wider than their box."""
    return page.evaluate(_CUT, [scope, list(FORM_TEXT)])


def assert_form_text_visible(page, scope: str) -> None:
    """Assert that every visible label, button, toggle and tab title under ``scope`` shows its whole text."""
    assert page.locator(scope).count() >= 1, f"no form {scope} on the page"
    cut = form_text_cut(page, scope)
    assert not cut, "form text cut at 1400 px:\n" + "\n".join(cut)


def shoot(page, folder: Path, name: str, selector: str | None = None) -> Path:
    """Save a screenshot (the whole page, or one element) as ``folder/name.png``; return its path."""
    path = Path(folder) / f"{name}.png"
    if selector:
        page.locator(selector).first.screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000, f"{path.name} is (nearly) empty"
    return path

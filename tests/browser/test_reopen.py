"""A saved runbook reopened in a new kernel: its form shows the saved widget state or the re-run note, never a bare
"model not found".

The welcome runbook (copied under another name, so other tests keep a clean copy) is run, saved, and its kernel
shut down; a new page opens it on a new kernel without running anything.
"""

from __future__ import annotations

import json
import shutil

import pytest

from labkit.forms.notes import RERUN_NOTE
from tests.browser.runbook_dom import run_to_the_end, shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

MISSING = "model not found"


def test_a_reopened_runbook_shows_saved_state_or_the_rerun_note(lab, tmp_path):
    name = "reopen-00-welcome.ipynb"
    shutil.copy(lab.root / "00-welcome.ipynb", lab.root / name)
    page = lab.open(name)
    run_to_the_end(lab, page)
    page.locator(".labkit-status-services table tbody tr").first.wait_for(timeout=120_000)
    page.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    saved = lab.root / name
    page.wait_for_function("!document.querySelector('#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current.jp-mod-dirty')",
                           timeout=30_000)
    nb = json.loads(saved.read_text())
    assert nb["metadata"].get("widgets"), "labkit lab's settings save the widget state with the notebook"
    for s in lab.api("/api/sessions") or []:
        if s["path"].endswith(name):
            lab.api(f"/api/sessions/{s['id']}", method="DELETE")
    page.close()
    lab.pages.remove(page)

    again = lab.open(name)            # a new kernel: nothing has run in it
    form_cell = again.locator(".jp-Notebook .jp-CodeCell").filter(has_text="StatusForm(").first
    outputs = form_cell.locator(".jp-Cell-outputArea")
    outputs.wait_for(timeout=60_000)
    again.wait_for_timeout(2_000)     # widget views render from the saved state after the outputs
    text = outputs.inner_text()
    assert RERUN_NOTE in text, text[:500]                     # the note is saved as plain text: always there
    shown = again.locator(".jp-Notebook .labkit-status table tbody tr").count()
    if MISSING in text or "Error displaying widget" in text:
        assert text.index(RERUN_NOTE) < text.index("Error displaying widget"), "the note comes first"
    else:
        assert shown >= 1, "neither the saved widget state nor an error: the form vanished"
    shoot(again, tmp_path, "reopened")
    assert not any(MISSING in e for e in again.errors), again.errors

"""The JQL search form, driven like a notebook user would (button clicks), against the sandbox."""

from __future__ import annotations

import pytest

from labkit.forms.jql import (
    JqlSearchForm,
    add_clause,
    first_text_words,
    restriction_without_text,
    text_clause,
)
from labkit.jira.client import JiraClient
from labkit.jira.sandbox import serve

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client():
    """A client on a Server/DC sandbox with 400 demo issues."""
    with serve(seed_issues=400, seed=21) as sb:
        yield JiraClient(sb.url, sb.auth)


@pytest.mark.unit
def test_text_helpers_write_escaped_jql():
    assert text_clause("disk space", "words") == 'text ~ "disk space"'
    assert text_clause("disk space", "phrase") == 'text ~ "\\"disk space\\""'
    assert text_clause("disk space", "near", near=10) == 'text ~ "\\"disk space\\"~10"'
    assert text_clause("behavio", "wildcard", field="summary") == 'summary ~ "behavio*"'
    assert add_clause("project = DEMO ORDER BY key", 'text ~ "x"') == 'project = DEMO AND text ~ "x" ORDER BY key'
    assert add_clause("", 'text ~ "x"') == 'text ~ "x"'
    assert restriction_without_text('project = DEMO AND text ~ "a b" AND status = Open') == "project = DEMO AND status = Open"
    assert first_text_words('project = DEMO AND summary ~ "\\"disk space\\"~5"') == ("summary", "disk space")
    with pytest.raises(ValueError):
        text_clause("  ", "phrase")


def test_form_lints_inserts_runs_and_compares(client):
    form = JqlSearchForm("project = DEMO", client=client)
    assert "Summary (summary)" in [label for label, _ in form.fields.options]
    assert "no warnings" in form.warnings.value
    form.query.value = 'project = DEMO AND text ~ "disk space"'
    assert "words-not-phrase" in form.warnings.value          # live lint on every change
    form.query.value = "project = = DEMO"
    assert "position" in form.warnings.value                   # syntax error shown, no exception
    form.query.value = "project = DEMO ORDER BY key ASC"
    form.words.value, form.mode.value = "disk space", "phrase"
    form.insert_button.click()
    assert form.query.value == 'project = DEMO AND text ~ "\\"disk space\\"" ORDER BY key ASC'
    form.fields.value = ("description",)
    form.compare.value = True
    form.run_button.click()
    df = form.result
    assert list(df["key"]) == client.search_keys(form.query.value) and "description" in df.columns
    assert f"<b>{client.count(form.query.value)}</b>" in form.count.value
    cmp = form.compared.set_index("mode")["count"]
    assert cmp["words"] == client.count('project = DEMO AND text ~ "disk space"')
    assert cmp["phrase"] == client.count('project = DEMO AND text ~ "\\"disk space\\""')
    assert cmp["phrase"] <= cmp["words"]


def test_form_shows_errors_instead_of_raising(client):
    form = JqlSearchForm("summary ~", client=client)
    form.run_button.click()
    assert "rejected the JQL" in form.count.value and form.result is None
    form.words.value = ""
    form.insert_button.click()
    assert "type the words" in form.count.value

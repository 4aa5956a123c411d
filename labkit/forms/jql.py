"""The JQL search form: query box with live lint, text-search helpers, field and profile pickers, Run, compare.

    from labkit.forms.jql import JqlSearchForm
    form = JqlSearchForm()            # the sandbox profile unless another is picked
    form                              # type, watch the warnings, press Run: count and table
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from labkit.forms.layout import fit_text

TEXT_FIELDS = ["text", "summary", "description", "comment", "environment"]
MODES = ["words", "phrase", "near", "wildcard"]
FORM_ROWS = 20  # rows the form shows; the search keeps them all


def text_clause(words: str, mode: str, *, field: str = "text", near: int = 10) -> str:
    """Return the escaped JQL clause for a text search: words, exact phrase, phrase within N words, or wildcard."""
    from labkit.jira.jql.build import field as jql_field
    from labkit.jira.jql.build import text

    words = words.strip()
    if not words:
        raise ValueError("type the words to search for first")
    if mode == "words":
        return str(text(words, field=field))
    if mode == "phrase":
        return str(text(words, phrase=True, field=field))
    if mode == "near":
        return str(text(words, phrase=True, within=int(near), field=field))
    if mode == "wildcard":
        if not any(ch in words for ch in "*?"):
            words += "*"
        return str(jql_field(field).contains(words))
    raise ValueError(f"unknown text mode {mode!r}: use one of {', '.join(MODES)}")


def add_clause(query: str, clause: str) -> str:
    """AND a clause onto a query's restriction, keeping its ORDER BY at the end."""
    from labkit.jira.jql.edit import and_where

    return and_where(query, clause)


def restriction_without_text(query: str) -> str:
    """Return the query's top-level AND restrictions that are not text searches (``~``), as JQL."""
    from labkit.jira.jql import parse, render
    from labkit.jira.jql.ast import And, Clause, Or

    q = parse(query)
    if q.where is None:
        return ""
    items = q.where.items if isinstance(q.where, And) else (q.where,)
    kept = [i for i in items if not (isinstance(i, Clause) and i.op in ("~", "!~"))]
    return " AND ".join(f"({render(i)})" if isinstance(i, Or) else render(i) for i in kept)


def first_text_words(query: str) -> tuple[str, str] | None:
    """Return (field, plain words) of the query's first text clause, quotes and operators removed."""
    from labkit.jira.jql import clauses, parse
    from labkit.jira.jql.ast import Value
    from labkit.jira.jql.text import tokens

    for c in clauses(parse(query)):
        if c.op == "~" and isinstance(c.operand, Value):
            parts = [t.text.replace("*", " ").replace("?", " ") for t in tokens(c.operand.text)
                     if t.kind in ("TERM", "PHRASE")]
            return c.field, " ".join(" ".join(parts).split())
    return None


class JqlSearchForm(widgets.VBox):
    """A JQL search with live warnings, text helpers, a field picker, a profile picker and a words/phrase compare."""

    def __init__(self, query: str = "", *, profile: str | None = None, client: Any = None,
                 max_rows: int = 500, connect: bool = True) -> None:
        """Build the form with ``query``, on ``client`` or the chosen profile's Jira."""
        from labkit.config import get_profile, load_profiles

        self._client = client
        self._clients: dict[str, Any] = {}
        names = sorted(load_profiles())
        current = get_profile(profile).name
        self.profile = widgets.Dropdown(options=names, value=current, description="Profile")
        self.profile.add_class("labkit-jql-profile")
        self.query = widgets.Textarea(value=query, placeholder='project = DEMO AND text ~ "\\"disk space\\""',
                                      layout=widgets.Layout(width="100%", height="4em"))
        self.query.add_class("labkit-jql-query")
        self.warnings = widgets.HTML()
        self.warnings.add_class("labkit-jql-warnings")
        self.words = widgets.Text(placeholder="disk space", description="Words")
        self.words.add_class("labkit-jql-words")
        self.text_field = widgets.Dropdown(options=TEXT_FIELDS, value="text", description="in")
        self.mode = widgets.ToggleButtons(options=MODES, value="phrase")
        self.mode.add_class("labkit-jql-mode")
        self.near = widgets.BoundedIntText(value=10, min=0, max=100, description="near N", layout={"width": "9em"})
        self.insert_button = widgets.Button(description="Add to query", icon="plus")
        self.insert_button.add_class("labkit-jql-insert")
        self.fields = widgets.SelectMultiple(options=[], description="Fields", rows=5)
        self.fields.add_class("labkit-jql-fields")
        self.limit = widgets.BoundedIntText(value=max_rows, min=1, max=100_000, description="Max rows")
        self.compare = widgets.ToggleButton(value=False, description="Compare words vs phrase", icon="columns")
        self.compare.add_class("labkit-jql-compare")
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="search")
        self.run_button.add_class("labkit-jql-run")
        self.count = widgets.HTML()
        self.count.add_class("labkit-jql-count")
        self.comparison = widgets.Output()
        self.comparison.add_class("labkit-jql-comparison")
        self.table = widgets.Output()
        self.table.add_class("labkit-jql-table")
        self.result = None  # the last search's DataFrame
        self.compared = None  # the last comparison's DataFrame
        super().__init__([
            self.profile, self.query, self.warnings,
            widgets.HBox([self.words, self.text_field, self.near]), widgets.HBox([self.mode, self.insert_button]),
            widgets.HBox([self.fields, widgets.VBox([self.limit, self.compare, self.run_button])]),
            self.count, self.comparison, self.table,
        ])
        self.add_class("labkit-jql")
        fit_text(self)
        self.query.observe(lambda _c: self.lint(), names="value")
        self.insert_button.on_click(lambda _b: self.insert())
        self.run_button.on_click(lambda _b: self.run())
        self.profile.observe(lambda _c: self._load_fields(), names="value")
        self.lint()
        if connect:
            self._load_fields()

    # ------------------------------------------------------------------ wiring
    @property
    def client(self) -> Any:
        """Return the JiraClient of the picked profile (started sandbox for the sandbox profile)."""
        if self._client is not None:
            return self._client
        name = self.profile.value
        if name not in self._clients:
            from labkit.jira.client import JiraClient

            if name == "sandbox":
                import labkit.sandbox as sandbox

                sandbox.start(["jira"])
            self._clients[name] = JiraClient.from_profile(name, progress=False)
        return self._clients[name]

    def _load_fields(self) -> None:
        """Fill the field picker from the server's field list."""
        try:
            fields = self.client.fields()
        except Exception as exc:  # noqa: BLE001 - shown in the form, never a traceback
            self._say(f"could not read the fields: {exc}", error=True)
            return
        self.fields.options = sorted((f"{f['name']} ({f['id']})", f["id"]) for f in fields)

    def _say(self, message: str, *, error: bool = False) -> None:
        """Show a message (or an error) under the buttons."""
        color = "#b00" if error else "inherit"
        self.count.value = f"<span style='color:{color}'>{html.escape(message)}</span>"

    def lint(self) -> list[Any]:
        """Show the lint warnings (or the syntax error) of the current query; return the warnings."""
        from labkit.jira.errors import JqlSyntaxError
        from labkit.jira.jql.lint import lint

        q = self.query.value.strip()
        if not q:
            self.warnings.value = ""
            return []
        cloud = bool(self._client is not None and getattr(self._client, "_info", None) and self._client.is_cloud)
        try:
            found = lint(q, cloud=cloud)
        except JqlSyntaxError as exc:
            self.warnings.value = f"<pre style='color:#b00'>{html.escape(str(exc))}</pre>"
            return []
        items = "".join(f"<li><b>{html.escape(w.code)}</b>: {html.escape(w.message)}"
                        + (f" <i>({html.escape(w.hint)})</i>" if w.hint else "") + "</li>" for w in found)
        self.warnings.value = f"<ul style='color:#a60'>{items}</ul>" if found else "<span style='color:#080'>no warnings</span>"
        return found

    def insert(self) -> str:
        """Add the helper's escaped text clause to the query; return the new query."""
        try:
            clause = text_clause(self.words.value, self.mode.value, field=self.text_field.value, near=self.near.value)
        except ValueError as exc:
            self._say(str(exc), error=True)
            return self.query.value
        self.query.value = add_clause(self.query.value, clause)
        return self.query.value

    def run(self):  # -> pandas.DataFrame | None
        """Count and fetch the query's issues into the table (and the words/phrase comparison if on)."""
        from labkit.errors import LabkitError
        from labkit.tables import show

        q = self.query.value.strip()
        try:
            client = self.client
            total = client.count(q)
            df = client.search(q, list(self.fields.value), limit=self.limit.value)
            compared = self._words_vs_phrase(q) if self.compare.value else None
        except LabkitError as exc:
            self._say(str(exc), error=True)
            return None
        self.result, self.compared = df, compared
        shown = f" (showing {len(df)})" if len(df) < total else ""
        self.count.value = f"<b>{total}</b> issue{'s' if total != 1 else ''}{shown}"
        self.comparison.clear_output(wait=True)
        if compared is not None:
            with self.comparison:
                show(compared)
        self.table.clear_output(wait=True)
        with self.table:
            # the first rows only: an Output's content travels in one message, and nbclient (papermill,
            # labkit run) stalls on a large one; the whole result is in form.result
            show(df.head(FORM_ROWS), caption=f"the first {FORM_ROWS} of {len(df)} rows (all in form.result)"
                 if len(df) > FORM_ROWS else None)
        return df

    def _words_vs_phrase(self, query: str):  # -> pandas.DataFrame
        """Count the words version and the phrase version of the text search, within the query's other restrictions."""
        import pandas as pd

        from labkit.jira.errors import JiraError

        words, field = self.words.value.strip(), self.text_field.value
        if not words:
            found = first_text_words(query)
            if found is None:
                raise JiraError("nothing to compare", hint="type words in the helper or put a text ~ clause in the query")
            field, words = found
        base = restriction_without_text(query)
        rows = []
        for mode in ("words", "phrase"):
            jql = add_clause(base, text_clause(words, mode, field=field))
            rows.append({"mode": mode, "jql": jql, "count": self.client.count(jql)})
        return pd.DataFrame(rows)

"""The PR review form: load a pull request, see its checks and diffs, then apply, amend, test and merge.

Thin ipywidgets wiring over :mod:`labkit.review`; every button that would change the repository
runs as a dry run while "Dry run" is ticked (the default).
"""

from __future__ import annotations

from typing import Any

import anywidget
import ipywidgets as widgets
import traitlets

from labkit.assets import widget_file
from labkit.errors import LabkitError
from labkit.review.amend import DEFAULT_ISSUE_PATTERN, issues_to_add
from labkit.review.apply import ApplyResult, apply_series
from labkit.review.checks import CheckResult, check_series
from labkit.review.mbox import PatchSeries, parse_mbox

MAX_DIFF_CHARS = 200_000  # per file sent to the browser


def series_payload(series: PatchSeries, checks: list[CheckResult] | None = None) -> list[dict[str, Any]]:
    """Turn a series (and its checks) into the JSON the diff view draws."""
    by_commit: dict[int, list[dict[str, str]]] = {}
    for r in checks or []:
        by_commit.setdefault(r.n, []).append({"check": r.check, "status": r.status, "detail": r.detail})
    out = []
    for c in series.commits:
        files = []
        for f in c.files:
            diff = f.diff
            files.append({"path": f.path, "old_path": f.old_path, "status": f.status, "added": f.added,
                          "removed": f.removed, "binary": f.binary, "old_mode": f.old_mode, "new_mode": f.new_mode,
                          "diff": diff[:MAX_DIFF_CHARS], "truncated": len(diff) > MAX_DIFF_CHARS})
        out.append({"n": c.index, "subject": c.subject, "author": c.author, "email": c.email, "date": c.date,
                    "message": c.body, "files": files, "checks": by_commit.get(c.index, []) + by_commit.get(0, [])})
    return out


class DiffView(anywidget.AnyWidget):
    """A diff viewer for a patch series: per-commit navigation, file list, unified or side-by-side diffs."""

    _esm = widget_file("diffview.js")
    _css = widget_file("diffview.css")
    commits = traitlets.List([]).tag(sync=True)
    index = traitlets.Int(0).tag(sync=True)
    mode = traitlets.Unicode("unified").tag(sync=True)
    file = traitlets.Int(-1).tag(sync=True)

    def show(self, series: PatchSeries, checks: list[CheckResult] | None = None) -> None:
        """Display a series, starting at its first commit."""
        self.index, self.file = 0, -1
        self.commits = series_payload(series, checks)


class ReviewForm(widgets.VBox):
    """Load a PR (URL, owner/repo#N or mbox text), check it, view diffs, and apply/amend/test/merge it."""

    def __init__(self, source: str = "", repo: str = ".", onto: str = "", issue_pattern: str = DEFAULT_ISSUE_PATTERN,
                 issue_id: str = "", test_cmd: str = "", base_url: str | None = None) -> None:
        """Build the form's widgets and wire its buttons."""
        self.base_url = base_url
        self.source = widgets.Text(value=source, description="Pull request", placeholder="URL or owner/repo#N",
                                   layout=widgets.Layout(width="60%"))
        self.repo = widgets.Text(value=str(repo), description="Local clone")
        self.onto = widgets.Text(value=onto, description="Onto branch")
        self.pattern = widgets.Text(value=issue_pattern, description="Issue regex")
        self.issue = widgets.Text(value=issue_id, description="Issue ID", placeholder="added where missing")
        self.test_cmd = widgets.Text(value=test_cmd, description="Test command")
        self.merge_mode = widgets.Dropdown(options=[("fast-forward", "ff"), ("merge commit", "merge")], value="ff",
                                           description="Merge as")
        self.dry_run = widgets.Checkbox(value=True, description="Dry run")
        self.buttons: dict[str, widgets.Button] = {}
        for action, label, icon in (("load", "Load", "download"), ("apply", "Apply", "check"),
                                    ("amend", "Amend IDs", "tag"), ("test", "Run tests", "play"),
                                    ("merge", "Merge", "code-fork")):
            b = widgets.Button(description=label, icon=icon)
            b.add_class(f"labkit-review-{action}")
            b.on_click(lambda _b, a=action: self._run(a))
            self.buttons[action] = b
        self.message = widgets.HTML()
        self.message.add_class("labkit-review-message")
        self.table = widgets.Output()
        self.table.add_class("labkit-review-table")
        self.diff = DiffView()
        self.series: PatchSeries | None = None
        self.checks: list[CheckResult] = []
        self.result: ApplyResult | None = None
        super().__init__([
            self.source, widgets.HBox([self.repo, self.onto]), widgets.HBox([self.pattern, self.issue]),
            widgets.HBox([self.test_cmd, self.merge_mode, self.dry_run]),
            widgets.HBox(list(self.buttons.values())), self.message, self.table, self.diff])
        self.add_class("labkit-review")

    def _run(self, action: str) -> None:
        """Run a button's action and show a LabkitError as a message, not a traceback."""
        try:
            getattr(self, action)()
        except LabkitError as exc:
            self._say(str(exc), error=True)

    def _say(self, text: str, error: bool = False) -> None:
        """Show a status line (red for an error)."""
        import html

        color = "#b00" if error else "#222"
        self.message.value = f"<span style='color:{color}'>{html.escape(text)}</span>"

    def _show(self, frame: Any) -> None:
        """Replace the output table with a DataFrame."""
        from IPython.display import display

        self.table.clear_output(wait=True)
        with self.table:
            display(frame)

    def _need_series(self) -> PatchSeries:
        """Return the loaded series, loading it first if needed."""
        if self.series is None:
            self.load()
        assert self.series is not None
        return self.series

    def load(self) -> PatchSeries:
        """Fetch and parse the PR, run the checks that need no repository change, fill table and diff view."""
        from labkit.review.pullrequest import PullRequest

        src = self.source.value.strip()
        if src.startswith("From ") or "\ndiff --git " in src:
            series = parse_mbox(src.encode())
        else:
            series = PullRequest.from_url(src, base_url=self.base_url).fetch_series()
        self.series = series
        onto = self.onto.value.strip() or None
        self.checks = check_series(series, repo=self.repo.value if onto else None, onto=onto,
                                   issue_pattern=self.pattern.value or None)
        self._show(self.checks_frame())
        self.diff.show(series, self.checks)
        fails = sum(r.status == "fail" for r in self.checks)
        self._say(f"{len(series)} commits by {', '.join(series.authors)}; {fails} failing checks")
        return series

    def checks_frame(self):  # -> DataFrame
        """The series table joined with one column per check (pass/warn/fail)."""
        frame = self._need_series().to_frame()
        for name in dict.fromkeys(r.check for r in self.checks if r.n):
            frame[name] = [next((r.status for r in self.checks if r.check == name and r.n == n), "")
                           for n in frame["n"]]
        return frame

    def amend(self):  # -> DataFrame
        """Preview the subjects with the issue ID added where it is missing (nothing is written)."""
        from labkit.tables import to_frame

        series = self._need_series()
        issue = self.issue.value.strip()
        if not issue:
            raise LabkitError("no issue ID to add", hint="type one in 'Issue ID', e.g. CALC-7")
        amended = issues_to_add(series, issue, self.pattern.value)
        rows = [{"n": c.index, "before": c.subject,
                 "after": c.amended_message(amended.get(c.index), trailers=False).split("\n", 1)[0],
                 "amended": c.index in amended} for c in series.commits]
        frame = to_frame(rows)
        self._show(frame)
        self._say(f"{len(amended)} subjects gain {issue} when applied (Apply/Merge use it)")
        return frame

    def _apply(self, merge: str | None, test: bool) -> ApplyResult:
        """Apply the series (dry run unless asked) and show the step table."""
        from labkit.tables import to_frame

        series = self._need_series()
        onto = self.onto.value.strip()
        if not onto:
            raise LabkitError("no target branch", hint="type the branch to apply onto in 'Onto branch'")
        res = apply_series(self.repo.value, series, onto=onto, amend_issue=self.issue.value.strip() or None,
                           issue_pattern=self.pattern.value or DEFAULT_ISSUE_PATTERN,
                           test_cmd=(self.test_cmd.value.strip() or None) if test else None,
                           merge=merge, dry_run=self.dry_run.value)
        self.result = res
        self._show(to_frame(res.rows()))
        text = res.message
        if res.test is not None:
            text += f" | tests: exit {res.test.returncode} in {res.test.seconds}s"
        self._say(f"{res.status}: {text}", error=not res.ok)
        return res

    def apply(self) -> ApplyResult:
        """Apply onto the target in a scratch worktree (and test when a command is set); nothing is merged."""
        return self._apply(None, test=True)

    def test(self) -> ApplyResult:
        """Apply in a scratch worktree and run the test command there; the repository is left as it was."""
        if not self.test_cmd.value.strip():
            raise LabkitError("no test command", hint="type one in 'Test command', e.g. python3 -m unittest")
        dry, self.dry_run.value = self.dry_run.value, False  # a test run changes nothing: run it for real
        try:
            return self._apply(None, test=True)
        finally:
            self.dry_run.value = dry

    def merge(self) -> ApplyResult:
        """Apply, test, then fast-forward or merge the target branch (a dry run while 'Dry run' is ticked)."""
        return self._apply(self.merge_mode.value, test=True)


def review_form(**kwargs: Any) -> ReviewForm:
    """Build the review form (same arguments as :class:`ReviewForm`)."""
    return ReviewForm(**kwargs)

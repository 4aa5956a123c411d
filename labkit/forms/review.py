"""The PR review form: load a pull request or thread, see its checks and diffs, apply, test, merge, compare
revisions and backport.

Thin ipywidgets wiring over :mod:`labkit.review`. Three tabs: *Review* (load, amend preview, apply,
tests, merge), *Backport* (one series onto several branches: the branch x commit grid) and
*Revisions* (range-diff of two revisions, drawn in the diff view). Every button that would change
the repository runs as a dry run while "Dry run" is ticked (the default).
"""

from __future__ import annotations

from typing import Any

import anywidget
import ipywidgets as widgets
import traitlets

from labkit.assets import widget_file
from labkit.errors import LabkitError
from labkit.forms.layout import fit_text
from labkit.review.amend import DEFAULT_ISSUE_PATTERN, issues_to_add
from labkit.review.apply import ApplyResult, apply_series
from labkit.review.backports import BackportResult, backport
from labkit.review.checks import CheckResult, check_series
from labkit.review.mbox import parse_thread
from labkit.review.rangediff import RangeDiff, range_diff
from labkit.review.series import PatchSeries

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
            diff = f.diff.replace("\r\n", "\n")
            files.append({"path": f.path, "old_path": f.old_path, "status": f.status, "added": f.added,
                          "removed": f.removed, "binary": f.binary, "old_mode": f.old_mode, "new_mode": f.new_mode,
                          "crlf": f.crlf, "diff": diff[:MAX_DIFF_CHARS], "truncated": len(diff) > MAX_DIFF_CHARS})
        out.append({"n": c.index, "subject": c.subject, "author": c.author, "email": c.email, "date": c.date,
                    "message": c.amended_message().split("\n", 2)[-1] if c.extra_trailers else c.body,
                    "files": files, "checks": by_commit.get(c.index, []) + by_commit.get(0, [])})
    return out


def range_payload(rd: RangeDiff) -> list[dict[str, Any]]:
    """Turn a range-diff into the JSON the diff view's revisions mode draws."""
    return [{"old": r.old, "new": r.new, "status": r.status, "marker": r.marker, "subject": r.subject,
             "old_subject": r.old_subject, "diff": r.diff[:MAX_DIFF_CHARS]} for r in rd.rows]


class DiffView(anywidget.AnyWidget):
    """A diff viewer: a series (per-commit navigation, file list, unified or side-by-side) or a range-diff."""

    _esm = widget_file("diffview.js")
    _css = widget_file("diffview.css")
    kind = traitlets.Unicode("series").tag(sync=True)  # series | range
    commits = traitlets.List([]).tag(sync=True)
    ranges = traitlets.List([]).tag(sync=True)
    labels = traitlets.List(["old", "new"]).tag(sync=True)
    index = traitlets.Int(0).tag(sync=True)
    mode = traitlets.Unicode("unified").tag(sync=True)
    file = traitlets.Int(-1).tag(sync=True)

    def show(self, series: PatchSeries, checks: list[CheckResult] | None = None) -> None:
        """Display a series, starting at its first commit."""
        self.index, self.file = 0, -1
        self.commits = series_payload(series, checks)
        self.kind = "series"

    def show_range(self, rd: RangeDiff) -> None:
        """Display a range-diff: one row per commit pair, the diff of the selected pair's patches."""
        first_changed = next((i for i, r in enumerate(rd.rows) if r.status != "unchanged"), 0)
        self.index = first_changed
        self.labels = [rd.old_label, rd.new_label]
        self.ranges = range_payload(rd)
        self.kind = "range"


class ReviewForm(widgets.VBox):
    """Load a PR (URL, owner/repo#N or mbox text), check it, view diffs, apply/amend/test/merge, compare, backport."""

    def __init__(self, source: str = "", repo: str = ".", onto: str = "", issue_pattern: str = DEFAULT_ISSUE_PATTERN,
                 issue_id: str = "", test_cmd: str = "", base_url: str | None = None, backport_onto: str = "",
                 old_revision: str = "", merge: str = "ff") -> None:
        """Build the form's widgets and wire its buttons."""
        self.base_url = base_url
        self.source = widgets.Text(value=source, description="Pull request", placeholder="URL, owner/repo#N or mbox",
                                   layout=widgets.Layout(width="60%"))
        self.repo = widgets.Text(value=str(repo), description="Local clone")
        self.onto = widgets.Text(value=onto, description="Onto branch")
        self.pattern = widgets.Text(value=issue_pattern, description="Issue regex")
        self.issue = widgets.Text(value=issue_id, description="Issue ID", placeholder="added where missing")
        self.test_cmd = widgets.Text(value=test_cmd, description="Test command")
        self.test_each = widgets.Checkbox(value=False, description="Test each commit")
        self.merge_mode = widgets.Dropdown(options=[("fast-forward", "ff"), ("merge commit", "merge")], value=merge,
                                           description="Merge as")
        self.dry_run = widgets.Checkbox(value=True, description="Dry run")
        self.backport_onto = widgets.Text(value=backport_onto, description="Branches",
                                          placeholder="release-1.x, release-2.x", layout=widgets.Layout(width="60%"))
        self.branch_prefix = widgets.Text(value="", description="Keep as", placeholder="prefix, e.g. backport/pr-5/")
        self.old_revision = widgets.Text(value=old_revision, description="Old revision",
                                         placeholder="owner/repo#N@SHA, a .patch, or empty: the last force-push",
                                         layout=widgets.Layout(width="60%"))
        self.buttons: dict[str, widgets.Button] = {}
        for action, label, icon in (("load", "Load", "download"), ("apply", "Apply", "check"),
                                    ("amend", "Amend IDs", "tag"), ("test", "Run tests", "play"),
                                    ("merge", "Merge", "code-fork"), ("backport", "Backport", "clone"),
                                    ("compare", "Compare revisions", "exchange")):
            b = widgets.Button(description=label, icon=icon)
            b.add_class(f"labkit-review-{action}")
            b.on_click(lambda _b, a=action: self._run(a))
            self.buttons[action] = b
        self.message = widgets.HTML()
        self.message.add_class("labkit-review-message")
        self.table = widgets.Output()
        self.table.add_class("labkit-review-table")
        self.grid = widgets.Output()
        self.grid.add_class("labkit-review-grid")
        self.revisions = widgets.Output()
        self.revisions.add_class("labkit-review-revisions")
        self.diff = DiffView()
        self.range_view = DiffView()
        self.range_view.add_class("labkit-review-rangediff")
        self.series: PatchSeries | None = None
        self.checks: list[CheckResult] = []
        self.result: ApplyResult | None = None
        self.backport_result: BackportResult | None = None
        self.range_result: RangeDiff | None = None
        b = self.buttons
        review = widgets.VBox([widgets.HBox([self.pattern, self.issue]),
                               widgets.HBox([self.test_cmd, self.test_each, self.merge_mode]),
                               widgets.HBox([b["apply"], b["amend"], b["test"], b["merge"]]), self.table, self.diff])
        back = widgets.VBox([self.backport_onto, widgets.HBox([self.branch_prefix, b["backport"]]), self.grid])
        revs = widgets.VBox([widgets.HBox([self.old_revision, b["compare"]]), self.revisions, self.range_view])
        self.tabs = widgets.Tab(children=[review, back, revs])
        for i, title in enumerate(("Review", "Backport", "Revisions")):
            self.tabs.set_title(i, title)
        super().__init__([self.source, widgets.HBox([self.repo, self.onto, self.dry_run, b["load"]]), self.message,
                          self.tabs])
        self.add_class("labkit-review")
        fit_text(self)

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

    @staticmethod
    def _show(out: widgets.Output, frame: Any) -> None:
        """Replace an output area's content with a DataFrame."""
        from labkit.tables import show

        out.clear_output(wait=True)
        with out:
            show(frame)

    def _need_series(self) -> PatchSeries:
        """Return the loaded series, loading it first if needed."""
        if self.series is None:
            self.load()
        assert self.series is not None
        return self.series

    def _read(self, text: str) -> PatchSeries:
        """Read a series from mbox text, a file path, or a pull request reference."""
        from pathlib import Path

        from labkit.review.pullrequest import PullRequest

        text = text.strip()
        if text.startswith("From ") or "\ndiff --git " in text:
            return parse_thread(text.encode())
        if text and "\n" not in text and Path(text).expanduser().is_file():
            return parse_thread(Path(text).expanduser().read_bytes(), source=text)
        return PullRequest.from_url(text, base_url=self.base_url).fetch_series(repo=self._repo_if_any())

    def _repo_if_any(self) -> str | None:
        """The local clone, when the field names a folder (lets a large PR borrow its objects)."""
        from pathlib import Path

        return self.repo.value if self.repo.value and Path(self.repo.value).expanduser().is_dir() else None

    def load(self) -> PatchSeries:
        """Fetch and parse the PR or thread, run the checks that need no repository change, fill table and diff view."""
        series = self._read(self.source.value)
        self.series = series
        onto = self.onto.value.strip() or None
        self.checks = check_series(series, repo=self.repo.value if onto else None, onto=onto,
                                   issue_pattern=self.pattern.value or None)
        self._show(self.table, self.checks_frame())
        self.diff.show(series, self.checks)
        fails = sum(r.status == "fail" for r in self.checks)
        extra = f"; {len(series.problems)} unreadable mails" if series.problems else ""
        self._say(f"{len(series)} commits by {', '.join(series.authors)}; {fails} failing checks{extra}")
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
        self._show(self.table, frame)
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
                           test_each=self.test_each.value, merge=merge, dry_run=self.dry_run.value)
        self.result = res
        self._show(self.table, to_frame(res.rows()))
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

    def backport(self) -> BackportResult:
        """Apply the series onto every branch named in 'Branches' (parallel scratch worktrees); show the grid.

        Branches are kept (under the 'Keep as' prefix) only when 'Dry run' is unticked.
        """
        series = self._need_series()
        names = [b.strip() for b in self.backport_onto.value.replace(",", " ").split() if b.strip()]
        if not names:
            raise LabkitError("no branch to backport onto", hint="type them in 'Branches', e.g. main, release-1.x")
        res = backport(self.repo.value, series, names, test_cmd=self.test_cmd.value.strip() or None,
                       test_each=self.test_each.value, amend_issue=self.issue.value.strip() or None,
                       issue_pattern=self.pattern.value or DEFAULT_ISSUE_PATTERN,
                       branch_prefix=self.branch_prefix.value.strip() or None, dry_run=self.dry_run.value)
        self.backport_result = res
        self._show(self.grid, res.grid())
        clean = [b.onto for b in res.branches.values() if b.ok]
        kept = [b.branch for b in res.branches.values() if b.branch_created]
        tail = f"; kept {', '.join(kept)}" if kept else (
            "; dry run: no branch kept" if self.branch_prefix.value.strip() and self.dry_run.value else "")
        self._say(f"every patch applies onto {', '.join(clean) or 'no branch'} of {len(names)}{tail}",
                  error=not res.ok)
        return res

    def compare(self) -> RangeDiff:
        """Range-diff the 'Old revision' against the loaded series (or the PR's last force-push); draw it."""
        from labkit.review.pullrequest import PullRequest

        new = self._need_series()
        old_text = self.old_revision.value.strip()
        if old_text:
            old, label = self._read(old_text), old_text
        else:
            src = self.source.value.strip()
            if src.startswith("From ") or "\n" in src:
                raise LabkitError("no old revision to compare with",
                                  hint="type one in 'Old revision' (owner/repo#N@SHA, a .patch path or mbox text)")
            pr = PullRequest.from_url(src, base_url=self.base_url)
            pushes = pr.force_pushes()
            if not pushes:
                raise LabkitError(f"{pr.ref} was never force-pushed",
                                  hint="type the old revision in 'Old revision' (owner/repo#N@SHA)")
            old, label = pr.revision(pushes[-1][0]).fetch_series(), f"{pr.ref}@{pushes[-1][0][:12]}"
        rd = range_diff(old, new, old_label=label, new_label=self.source.value.strip()[:80])
        self.range_result = rd
        self._show(self.revisions, rd.to_frame())
        self.range_view.show_range(rd)
        self._say(", ".join(f"{v} {k}" for k, v in rd.counts().items()))
        return rd


def review_form(**kwargs: Any) -> ReviewForm:
    """Build the review form (same arguments as :class:`ReviewForm`)."""
    return ReviewForm(**kwargs)

"""A team's workflow for flow metrics: statuses grouped into ordered stages, and where cycle time starts and ends.

    wf = Workflow.default(df)                           # To Do / In Progress / Done, from the status categories
    wf = Workflow.from_file("workflow.toml")            # stages you name
    wf = Workflow.from_board(client, board_id=1)        # an agile board's columns
    wf.stage_of("In Review")                            # -> 2 (its stage's position), -1 for an unknown status

A workflow file (TOML or JSON) lists ``[[stages]]`` (``name``, ``statuses``, ``active``) and the
keys ``start``, ``done``, ``lead_start``, ``start_policy``, ``done_policy``, ``name``; ``labkit
report --help`` shows a whole one.

Moves between stages are read against this order (:meth:`Workflow.move`): forward, a skip (over
stages never entered), backward, or a reopening (backward out of done). Status names compare
without case. Categories come from :func:`labkit.jira.model.category_key`, the one place that
knows Jira's three.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.jira.model import STATUS_CATEGORIES, category_key
from labkit.tracker.errors import TrackerError

CATEGORY_ORDER = ("new", "indeterminate", "done")
_DEFAULT_NAMES = {key: STATUS_CATEGORIES[key][1] for key in CATEGORY_ORDER}  # To Do, In Progress, Done
_FILE_KEYS = {"stages", "start", "done", "lead_start", "start_policy", "done_policy", "name"}
_STAGE_KEYS = {"name", "statuses", "active", "category"}


@dataclass(frozen=True)
class Stage:
    """One stage of a workflow: its name, the statuses it holds, and whether work in it is active."""

    name: str
    statuses: tuple[str, ...]
    active: bool = True         # False: a queue (waiting); flow efficiency counts it as waiting
    category: str | None = None  # new / indeterminate / done when known


@dataclass(frozen=True)
class Workflow:
    """Ordered stages, and the points where cycle time (``start`` → ``done``) and lead time start.

    ``start_policy``: ``first`` (default) starts the clock on the first entry into ``start`` or a
    later stage; ``last`` on the last such entry (after backward moves). ``done_policy``: ``last``
    (default) stops it on the last entry into ``done`` or later, so a reopened item is done when it
    is done for good; ``first`` on the first entry. An item is done only while it is in ``done`` or later.
    """

    stages: tuple[Stage, ...]
    start: str
    done: str
    lead_start: str | None = None     # None: creation
    start_policy: str = "first"
    done_policy: str = "last"
    name: str = "workflow"
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check the stages and points, and index statuses by lower-case name."""
        if not self.stages:
            raise TrackerError("a workflow needs at least one stage", hint="give stages with their statuses")
        names = [s.name for s in self.stages]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise TrackerError(f"stage names appear twice: {', '.join(dup)}", hint="give each stage its own name")
        for point, value in (("start", self.start), ("done", self.done)):
            if value not in names:
                raise TrackerError(f"the {point} stage {value!r} is not a stage of the workflow",
                                   hint=f"choose one of: {', '.join(names)}")
        if self.lead_start is not None and self.lead_start not in names:
            raise TrackerError(f"the lead_start stage {self.lead_start!r} is not a stage of the workflow",
                               hint=f"choose one of: {', '.join(names)}, or leave it out for the creation date")
        if names.index(self.start) >= names.index(self.done):
            raise TrackerError(f"cycle time would start at {self.start!r}, which is not before {self.done!r}",
                               hint="put the start stage before the done stage")
        if self.start_policy not in ("first", "last") or self.done_policy not in ("first", "last"):
            raise TrackerError(f"policies are 'first' or 'last', not {self.start_policy!r}/{self.done_policy!r}",
                               hint="start_policy = \"first\" and done_policy = \"last\" are the usual ones")
        seen: dict[str, str] = {}
        for i, stage in enumerate(self.stages):
            for status in stage.statuses:
                low = status.strip().lower()
                if low in seen and seen[low] != stage.name:
                    raise TrackerError(f"status {status!r} is in two stages: {seen[low]!r} and {stage.name!r}",
                                       hint="map each status to one stage")
                seen[low] = stage.name
                self._index[low] = i

    # -------------------------------------------------------------- reading
    @property
    def names(self) -> list[str]:
        """The stage names in order."""
        return [s.name for s in self.stages]

    @property
    def start_index(self) -> int:
        """Position of the stage where cycle time starts."""
        return self.names.index(self.start)

    @property
    def done_index(self) -> int:
        """Position of the first done stage."""
        return self.names.index(self.done)

    @property
    def lead_index(self) -> int | None:
        """Position of the stage where lead time starts (None: at creation)."""
        return None if self.lead_start is None else self.names.index(self.lead_start)

    def stage_of(self, status: Any) -> int:
        """Position of a status's stage (case-insensitive), or -1 when the workflow does not know it."""
        if status is None:
            return -1
        return self._index.get(str(status).strip().lower(), -1)

    def statuses(self) -> list[str]:
        """Every status the workflow maps, in stage order."""
        return [s for st in self.stages for s in st.statuses]

    def move(self, a: int, b: int) -> str:
        """Name a move from stage ``a`` to stage ``b``: forward, skip, backward, reopen, same or unmapped."""
        if a < 0 or b < 0:
            return "unmapped"
        if b == a:
            return "same"
        if b == a + 1:
            return "forward"
        if b > a:
            return "skip"
        return "reopen" if a >= self.done_index > b else "backward"

    def to_frame(self):  # -> pandas.DataFrame
        """The stages as a table: stage, statuses, category, active, and which points of the clocks they are."""
        import pandas as pd

        rows = []
        for i, s in enumerate(self.stages):
            marks = []
            if i == self.start_index:
                marks.append("cycle time starts")
            if i == self.done_index:
                marks.append("done")
            if self.lead_index == i:
                marks.append("lead time starts")
            rows.append({"stage": s.name, "statuses": list(s.statuses), "category": s.category or "",
                         "active": s.active, "marks": ", ".join(marks)})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """The workflow as a file's content (see the module doc)."""
        out: dict[str, Any] = {"name": self.name, "start": self.start, "done": self.done,
                               "stages": [{"name": s.name, "statuses": list(s.statuses), "active": s.active}
                                          for s in self.stages]}
        if self.lead_start:
            out["lead_start"] = self.lead_start
        if self.start_policy != "first":
            out["start_policy"] = self.start_policy
        if self.done_policy != "last":
            out["done_policy"] = self.done_policy
        return out

    def with_statuses(self, categories: Mapping[str, Any]) -> Workflow:
        """This workflow plus statuses it lacks, each put in the first stage of its category (when there is one)."""
        extra: dict[int, list[str]] = {}
        for status, cat in categories.items():
            if self.stage_of(status) >= 0:
                continue
            key = category_key(cat)
            at = next((i for i, s in enumerate(self.stages) if s.category == key), None)
            if at is not None:
                extra.setdefault(at, []).append(str(status))
        if not extra:
            return self
        stages = tuple(Stage(s.name, s.statuses + tuple(extra.get(i, ())), s.active, s.category)
                       for i, s in enumerate(self.stages))
        return Workflow(stages, self.start, self.done, self.lead_start, self.start_policy, self.done_policy, self.name)

    # -------------------------------------------------------------- making
    @classmethod
    def from_categories(cls, categories: Mapping[str, Any], **points: Any) -> Workflow:
        """Three stages, To Do, In Progress and Done, holding each status by its category (key, name or id).

        Statuses whose category is unknown are left out (metrics count them as unmapped).
        """
        groups: dict[str, list[str]] = {k: [] for k in CATEGORY_ORDER}
        for status, cat in categories.items():
            key = category_key(cat)
            if key in groups and status is not None and str(status) not in groups[key]:
                groups[key].append(str(status))
        stages = tuple(Stage(_DEFAULT_NAMES[k], tuple(groups[k]), True, k) for k in CATEGORY_ORDER)
        points.setdefault("start", _DEFAULT_NAMES["indeterminate"])
        points.setdefault("done", _DEFAULT_NAMES["done"])
        points.setdefault("name", "status categories")
        return cls(stages, **points)

    @classmethod
    def from_statuses(cls, statuses: Iterable[dict[str, Any]], **points: Any) -> Workflow:
        """The category workflow of REST status objects (``GET /rest/api/2/status``, or issues' ``fields.status``)."""
        cats = {}
        for st in statuses:
            if isinstance(st, dict) and st.get("name"):
                cats[st["name"]] = category_key(st)
        return cls.from_categories(cats, **points)

    @classmethod
    def default(cls, frame: Any = None, statuses: Iterable[dict[str, Any]] = ()) -> Workflow:
        """The category workflow of a search frame (``status``/``status_category`` columns) and any status objects."""
        cats: dict[str, Any] = {}
        for st in statuses:
            if isinstance(st, dict) and st.get("name"):
                cats[st["name"]] = category_key(st)
        if frame is not None and {"status", "status_category"} <= set(getattr(frame, "columns", ())):
            pairs = frame[["status", "status_category"]].dropna().drop_duplicates()
            for status, cat in pairs.itertuples(index=False):
                cats.setdefault(str(status), cat)
        return cls.from_categories(cats)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "the workflow") -> Workflow:
        """Build a workflow from a file's content: ``stages`` (name, statuses, active), ``start``, ``done``..."""
        if not isinstance(data, Mapping):
            raise TrackerError(f"{source} is not a table of keys", hint="see `labkit report --help` for the format")
        unknown = sorted(set(data) - _FILE_KEYS)
        if unknown:
            raise TrackerError(f"{source}: unknown keys {unknown}", hint=f"the keys are {sorted(_FILE_KEYS)}")
        raw = data.get("stages")
        if not isinstance(raw, list) or not raw:
            raise TrackerError(f"{source} has no stages", hint='add [[stages]] with name = "..." and statuses = [...]')
        stages = []
        for i, st in enumerate(raw, start=1):
            if not isinstance(st, Mapping) or not isinstance(st.get("name"), str):
                raise TrackerError(f"{source}: stage {i} has no name", hint='give each stage name = "..."')
            bad = sorted(set(st) - _STAGE_KEYS)
            if bad:
                raise TrackerError(f"{source}: stage {st['name']!r} has unknown keys {bad}",
                                   hint=f"a stage has {sorted(_STAGE_KEYS)}")
            sts = st.get("statuses") or []
            if isinstance(sts, str):
                sts = [sts]
            if not isinstance(sts, list) or not all(isinstance(x, str) for x in sts):
                raise TrackerError(f"{source}: stage {st['name']!r} statuses must be a list of names",
                                   hint='statuses = ["In Progress", "Doing"]')
            active = st.get("active", True)
            if not isinstance(active, bool):
                raise TrackerError(f"{source}: stage {st['name']!r} active must be true or false", hint="active = false")
            stages.append(Stage(st["name"], tuple(sts), active, category_key(st.get("category"))))
        names = [s.name for s in stages]
        start = data.get("start") or (names[1] if len(names) > 2 else names[0])
        done = data.get("done") or names[-1]
        return cls(tuple(stages), str(start), str(done), data.get("lead_start") if data.get("lead_start") not in
                   (None, "", "created") else None, data.get("start_policy", "first"), data.get("done_policy", "last"),
                   str(data.get("name") or "workflow"))

    @classmethod
    def from_file(cls, path: str | Path) -> Workflow:
        """Read a workflow file: TOML (``.toml``) or JSON (see the module doc)."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise TrackerError(f"cannot read the workflow file {p} ({exc.strerror or exc})",
                               hint="give the path of a .toml or .json workflow file") from None
        try:
            data = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise TrackerError(f"{p} is not valid {'JSON' if p.suffix.lower() == '.json' else 'TOML'}: {exc}",
                               hint="fix the file (the format is in `labkit report --help`)") from None
        return cls.from_mapping(data, source=str(p))

    @classmethod
    def from_board_configuration(cls, config: Mapping[str, Any], statuses: Sequence[dict[str, Any]]) -> Workflow:
        """The workflow of an agile board's configuration (``GET /rest/agile/1.0/board/{id}/configuration``).

        Each column that has statuses becomes a stage, in the board's order; statuses are named
        through ``statuses`` (``GET /rest/api/2/status``). Jira treats "the last column with
        statuses mapped to it" as the Done column: it is ``done``. Cycle time starts at the first
        column holding a status in progress (else the second column).
        """
        by_id = {str(s.get("id")): s for s in statuses if isinstance(s, dict)}
        columns = ((config.get("columnConfig") or {}).get("columns")) or []
        stages = []
        for col in columns:
            sts = [by_id.get(str(s.get("id")), {}) for s in col.get("statuses") or []]
            names = tuple(s["name"] for s in sts if s.get("name"))
            if not names:
                continue
            cats = {category_key(s) for s in sts if s.get("name")}
            cat = next(iter(cats)) if len(cats) == 1 else None
            stages.append(Stage(str(col.get("name")), names, True, cat))
        if len(stages) < 2:
            raise TrackerError(f"board {config.get('id')} has {len(stages)} column(s) with statuses: no flow to measure",
                               hint="map statuses to at least two columns, or give a workflow file")
        start = next((s.name for s in stages[:-1] if s.category == "indeterminate"), stages[1].name
                     if len(stages) > 2 else stages[0].name)
        return cls(tuple(stages), start, stages[-1].name, name=str(config.get("name") or f"board {config.get('id')}"))

    @classmethod
    def from_board(cls, client: Any, board_id: int) -> Workflow:
        """Read an agile board's columns from Jira (``client``: a :class:`labkit.jira.client.JiraClient`)."""
        config = client.session.get(f"/rest/agile/1.0/board/{int(board_id)}/configuration").json()
        statuses = client.session.get(f"{client.api}/status").json()
        return cls.from_board_configuration(config, statuses)

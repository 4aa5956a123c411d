"""Flow metrics on real trackers' data, read in place from ../shared/data (skipped when it is absent).

- bitovi-timeline-report: 53 Jira Cloud epics with 1,142 changelog entries, newest first, in
  -0500/-0600 offsets, with statuses no issue holds any more: every metric against the brute-force
  oracle of tests/tracker/oracle.py.
- appcelerator-jira-archive: 1,499 real ALOY issues without changelogs: lead time and throughput
  from creation and resolution dates, checked by hand-written arithmetic.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import timedelta

import pandas as pd
import pytest

from labkit.tracker import metrics
from labkit.tracker.flow import Flow
from labkit.tracker.history import read_issues
from labkit.tracker.workflow import Stage, Workflow
from tests.tracker.oracle import Timeline, day_floor, when

pytestmark = pytest.mark.unit

# A workflow a team could write for bitovi's statuses (every status its histories use).
BITOVI = Workflow((Stage("Upstream", ("Idea", "Estimating", "Refinement", "Refined")),
                   Stage("Ready", ("Ready", "To Do")), Stage("Development", ("Development", "In Progress")),
                   Stage("Blocked", ("Blocked",), active=False), Stage("QA", ("QA", "Validating")),
                   Stage("UAT", ("UAT",)), Stage("Done", ("Done",))), start="Development", done="Done")
STAGE = {s: i for i, st in enumerate(BITOVI.stages) for s in st.statuses}


@pytest.fixture(scope="module")
def bitovi(shared_data):
    return json.loads((shared_data / "jira" / "bitovi-timeline-report" / "bitovi-training.json").read_text())


def as_rest(issue):
    """The oracle reads REST field ids; bitovi's export names fields by their display names."""
    return {"key": issue["key"], "changelog": issue["changelog"],
            "fields": {"created": issue["fields"]["Created"], "status": issue["fields"]["Status"]}}


def test_bitovi_histories_against_the_oracle(bitovi):
    now = max(when(h["created"]) for i in bitovi for h in i["changelog"]) + timedelta(days=3)
    lines = {i["key"]: Timeline(as_rest(i), STAGE, now) for i in bitovi}
    frame, log, counts = read_issues(bitovi)
    assert len(log) == sum(len(h["items"]) for i in bitovi for h in i["changelog"])
    flow = Flow.build(frame, log, BITOVI, now=now, counts=counts)
    ct = metrics.cycle_time(flow).set_index("key")
    want = {k: (tl.started(2), tl.done(6)) for k, tl in lines.items()
            if tl.done(6) is not None and not tl.unstarted(2, 6)}
    assert len(want) >= 5 and set(ct.index) == set(want)
    for k, (s, d) in want.items():
        assert ct.loc[k, "cycle_days"] == pytest.approx((d - s).total_seconds() / 86400), k
    tis = metrics.time_in_stage(flow).set_index("key")
    for k, tl in lines.items():
        spent = [0.0] * len(BITOVI.stages)
        for a, b, s in tl.stays:
            spent[s] += (b - a).total_seconds() / 86400
        assert list(tis.loc[k, BITOVI.names]) == pytest.approx(spent), k
    ageing = metrics.ageing_wip(flow).set_index("key")
    assert set(ageing.index) == {k for k, tl in lines.items() if 2 <= tl.now_stage < 6}
    dq = metrics.data_quality(flow).set_index("check")
    moves = [m for tl in lines.values() for m in tl.moves]
    assert dq.loc["backward moves", "count"] == sum(b < a for a, b in moves) > 0
    assert dq.loc["skipped stages", "count"] == sum(b - a - 1 for a, b in moves if b > a + 1)
    assert dq.loc["history ends elsewhere", "items"] == 0  # the real histories end in the real statuses
    assert dq.loc["unmapped statuses", "count"] == 0


def test_default_workflow_on_real_data_names_what_it_cannot_place(bitovi):
    frame, log, counts = read_issues(bitovi)
    flow = Flow.build(frame, log, Workflow.default(frame), now="last", counts=counts)
    unmapped = set(metrics.data_quality(flow).set_index("check").loc["unmapped statuses", "examples"])
    assert {"QA", "Refinement"} <= unmapped  # statuses only the histories use: counted, not guessed


def test_appcelerator_lead_time_and_throughput_without_histories(shared_data):
    path = shared_data / "jira" / "appcelerator-jira-archive" / "ALOY.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        raw = [json.loads(line) for line in fh]
    frame, log, _counts = read_issues(raw)
    assert len(frame) == 1499 and log.empty
    flow = Flow.build(frame, None, Workflow.default(frame), now="last")
    done = {i["key"]: (when(i["fields"]["created"]), when(i["fields"]["resolutiondate"])) for i in raw
            if i["fields"]["status"]["statusCategory"]["key"] == "done" and i["fields"].get("resolutiondate")}
    lt = metrics.lead_time(flow).set_index("key")
    assert set(lt.index) == set(done)
    for k, (c, r) in list(done.items())[::37]:
        assert lt.loc[k, "lead_days"] == pytest.approx(max(0.0, (r - c).total_seconds() / 86400)), k
    weekly = metrics.throughput(flow, "W")
    per_week = Counter(day_floor(r) + timedelta(days=6 - r.weekday()) for _c, r in done.values())
    assert {k.to_pydatetime(): v for k, v in weekly.items() if v} == dict(per_week)
    with pytest.raises(Exception, match="status histories"):
        metrics.cumulative_flow(flow)
    assert isinstance(metrics.summary(flow)["lead time p85 (days)"], float)
    assert pd.notna(metrics.summary(flow)["lead time p85 (days)"])

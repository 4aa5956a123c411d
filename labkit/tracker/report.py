"""A self-contained HTML flow report: every chart embedded as SVG, every table by the table convention.

    report = build_report(frame, log, counts, workflow, source="project = OPS", forecast_items=20)
    report.write("flow.html")          # one file: open it in any browser, mail it, no Jupyter needed

``labkit report --jql ... --out report.html`` is this over a search with whole changelogs. The
file holds its own styles and, when a table is long enough to page, itables' offline bundle; it
loads nothing from the network. An existing file is replaced only if it is an earlier labkit
report (so a typo in ``--out`` cannot overwrite someone's document).
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.tracker.errors import TrackerError

GENERATOR = "labkit report"
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:72em;padding:0 1.5em;
color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:0.2em}h2{font-size:1.3em;margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:0.2em}
p.lead{color:#555;margin-top:0}figure.labkit-chart svg{max-width:100%;height:auto}
table.labkit caption{font-weight:600;padding:0.3em 0}.note{color:#555;font-size:0.95em}
nav a{margin-right:1em}
"""


@dataclass
class Section:
    """One part of a report: a title, a short explanation, and its charts and tables in order."""

    title: str
    intro: str = ""
    parts: list[Any] = field(default_factory=list)  # Chart, or (caption, table data)


@dataclass
class Report:
    """A flow report ready to be written as one HTML file."""

    title: str
    facts: list[tuple[str, str]]
    sections: list[Section]
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def charts(self) -> list[Any]:
        """Every chart of the report, in order."""
        from labkit.tracker.charts import Chart

        return [p for s in self.sections for p in s.parts if isinstance(p, Chart)]

    def html(self) -> str:
        """The whole report as one HTML document (charts inline, tables by the table convention)."""
        from labkit import tables
        from labkit.tracker.charts import Chart

        esc = html_lib.escape
        out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
               f'<meta name="generator" content="{GENERATOR}">',
               '<meta name="viewport" content="width=device-width, initial-scale=1">',
               f"<title>{esc(self.title)}</title><style>{_CSS}</style></head><body>",
               f"<h1>{esc(self.title)}</h1>",
               '<p class="lead">' + " · ".join(f"{esc(k)}: {esc(v)}" for k, v in self.facts) + "</p>",
               "<nav>" + "".join(f'<a href="#s{i}">{esc(s.title)}</a>' for i, s in enumerate(self.sections)) + "</nav>"]
        bundle_sent = False
        for i, s in enumerate(self.sections):
            out.append(f'<section id="s{i}"><h2>{esc(s.title)}</h2>')
            if s.intro:
                out.append(f'<p class="note">{esc(s.intro)}</p>')
            for part in s.parts:
                if isinstance(part, Chart):
                    out.append(part.html())
                else:
                    caption, data = part
                    paged = len(tables.clean(data)) > tables.PAGE_ROWS
                    out.append(tables.html(data, caption=caption, init=paged and not bundle_sent))
                    bundle_sent = bundle_sent or paged
            out.append("</section>")
        out.append("</body></html>")
        return "\n".join(out)

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the report atomically; an existing file must be an earlier labkit report, else nothing is written."""
        p = Path(path)
        if p.is_dir():
            raise TrackerError(f"{p} is a directory", hint="give a file name, e.g. --out report.html")
        if p.exists():
            try:
                head = p.read_text(encoding="utf-8", errors="replace")[:2000]
            except OSError as exc:
                raise TrackerError(f"cannot read {p} ({exc.strerror or exc})", hint="choose another --out") from None
            if f'content="{GENERATOR}"' not in head:
                raise TrackerError(f"{p} exists and is not a labkit report: not overwritten",
                                   hint="choose another --out, or move that file away first")
        if not p.parent.exists():
            raise TrackerError(f"the folder {p.parent} does not exist", hint="create it, or choose another --out")
        tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
        try:
            tmp.write_text(self.html(), encoding="utf-8")
            os.replace(tmp, p)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise TrackerError(f"cannot write {p} ({exc.strerror or exc})", hint="choose a folder you can write") from None
        return p


def summary_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Headline numbers as measure/value rows, each value written for reading (counts whole, days to 0.1)."""
    out = []
    for k, v in summary.items():
        if isinstance(v, float):
            v = "" if v != v else f"{v:,.1f}"
        elif isinstance(v, int):
            v = f"{v:,}"
        out.append({"measure": k, "value": v})
    return out


def stage_summary(tis: Any, names: list[str]) -> Any:
    """Per stage: items that stayed there, and the median, 85th percentile and mean of their days there."""
    import pandas as pd

    from labkit.tracker.metrics import percentile

    rows = []
    for name in names:
        d = tis[name].to_numpy(dtype=float)
        d = d[d > 0]
        rows.append({"stage": name, "items": len(d), "median_days": percentile(d, 50) if len(d) else None,
                     "p85_days": percentile(d, 85) if len(d) else None,
                     "mean_days": float(d.mean()) if len(d) else None})
    return pd.DataFrame(rows)


def build_report(frame: Any, log: Any = None, counts: Any = None, workflow: Any = None, *, now: Any = "last",
                 title: str = "Flow report", source: str = "", forecast_days: int = 28,
                 forecast_items: int | None = None, release_key: str | None = None, window: int | None = 90,
                 trials: int = 10_000, seed: int = 0) -> Report:
    """Build the report of an issue frame and its changelog (see the module doc).

    ``now`` is when the flow is read ("last": the data's last activity; None: this moment).
    Forecasts sample the last ``window`` days' throughput: how many items in ``forecast_days``
    days, when ``forecast_items`` items (default: the items in progress) will be done, and, with
    ``release_key``, when that issue and its open blockers will be done.
    """
    import pandas as pd

    import labkit.tracker.analytics  # noqa: F401  (df.jira, for the release forecast)
    from labkit.tracker import charts, forecast, metrics
    from labkit.tracker.flow import NAT, Flow
    from labkit.tracker.workflow import Workflow

    wf = workflow or Workflow.default(frame)
    flow = Flow.build(frame, log, wf, now=now, counts=counts)
    as_of = pd.Timestamp(flow.now, tz="UTC")
    facts = [("generated", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
             ("data as of", as_of.strftime("%Y-%m-%d %H:%M UTC")), ("items", f"{flow.n:,}"),
             ("workflow", wf.name)]
    if source:
        from labkit.http import mask_urls

        facts.insert(0, ("source", mask_urls(source)))
    sections = []
    summary = metrics.summary(flow)
    sections.append(Section("Summary", "The headline numbers of the items and their flow.",
                            [("Summary", pd.DataFrame(summary_rows(summary))),
                             ("Workflow: stages and their statuses", wf.to_frame())]))
    sections.append(Section("Data quality", "What in the histories makes these numbers doubtful, and what to do.",
                            [("Data quality", metrics.data_quality(flow))]))
    if flow.has_history:
        cycle = metrics.cycle_time(flow)
        pct = metrics.percentiles(cycle["cycle_days"])
        sections.append(Section(
            "Cycle time", f"From entering {wf.start!r} to entering {wf.done!r} for the last time, per finished item.",
            [charts.cycle_time_scatter(cycle), charts.cycle_time_histogram(cycle),
             ("Cycle time percentiles (days)", pd.DataFrame([{"percentile": f"p{p}", "days": v} for p, v in pct.items()]))]))
    else:
        pct = {p: float("nan") for p in metrics.PERCENTILES}
        sections.append(Section("Cycle time", "No status histories were given: lead time (created to resolved) only.",
                                [("Lead time percentiles (days)", pd.DataFrame(
                                    [{"percentile": f"p{p}", "days": v}
                                     for p, v in metrics.percentiles(metrics.lead_time(flow)["lead_days"]).items()]))]))
    weekly = metrics.throughput(flow, "W")
    sections.append(Section("Throughput", "Items finished per week; the line is the 4-week rolling mean.",
                            [charts.throughput_chart(weekly),
                             ("Last 12 weeks", weekly.tail(12).rename_axis("week ending").rename("items done")
                              .reset_index().assign(**{"week ending": lambda d: d["week ending"].dt.date}))]))
    if flow.has_history:
        cfd = metrics.cumulative_flow(flow)
        sections.append(Section("Cumulative flow", "Items in each stage at the end of each day, over the data's range.",
                                [charts.cumulative_flow_chart(cfd, done=wf.done)]))
    ageing = metrics.ageing_wip(flow)
    sections.append(Section("Ageing work in progress",
                            "Items in progress now, by how long since they started, against the cycle-time percentiles.",
                            [charts.ageing_wip_chart(ageing, wf.names[wf.start_index:wf.done_index], pct),
                             ("Items in progress, oldest first", ageing)]))
    if flow.has_history:
        eff = metrics.flow_efficiency(flow)
        sections.append(Section(
            "Time in stage and flow efficiency",
            "Days in each stage (all stays added up), and the share of each cycle spent working: stages marked "
            "not active and flagged periods count as waiting.",
            [("Time in stage (stages before done)",
              stage_summary(metrics.time_in_stage(flow), wf.names[:wf.done_index])),
             ("Flow efficiency", pd.DataFrame([{"items": len(eff), "efficiency_pct": eff.attrs["efficiency_pct"],
                                                "waiting_days_total": float(eff["waiting_days"].sum()),
                                                "cycle_days_total": float(eff["cycle_days"].sum())}]))]))
    start = pd.Timestamp(flow.last_day, tz="UTC") + pd.Timedelta(days=1)
    parts: list[Any] = []
    try:
        samples = forecast.throughput_samples(flow, window=window)
        hm = forecast.how_many(samples, days=forecast_days, start=start, trials=trials, seed=seed)
        parts += [charts.forecast_chart(hm), (f"How many items in {forecast_days} days", hm.table())]
        n_items = forecast_items or int(((flow.stage_now >= wf.start_index) & (flow.done == NAT)
                                         & (flow.stage_now < wf.done_index)).sum()) or 10
        wh = forecast.when(samples, items=n_items, start=start, trials=trials, seed=seed)
        parts += [charts.forecast_chart(wh), (f"When will {n_items} items be done", wh.table())]
        if release_key:
            rel = frame.jira.forecast_release(release_key, log, wf, now=now, window=window, trials=trials, seed=seed)
            if rel.items:
                parts += [charts.forecast_chart(rel),
                          (f"{release_key} and its open blockers: {', '.join(rel.detail['issues'])}", rel.table())]
            else:
                parts.append((f"{release_key}", pd.DataFrame([{"issue": release_key, "forecast":
                                                               "done, and nothing open blocks it"}])))
        intro = (f"Monte Carlo, {trials:,} trials (seed {seed}), each day's throughput drawn from the last "
                 f"{window or 'all'} days of data ({samples.sum()} items in {len(samples)} days).")
    except TrackerError as exc:
        intro = f"No forecast: {exc}"
    sections.append(Section("Forecasts", intro, parts))
    return Report(title, facts, sections, summary)

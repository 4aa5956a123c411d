"""Charts of flow metrics that a person can read: titled, labelled, dates formatted, clipped to the data's range.

    chart = cycle_time_scatter(metrics.cycle_time(flow))
    chart                                   # in a notebook: the chart, drawn as SVG with real text
    chart.svg(); chart.png(); chart.save("cycle.svg")

Every function returns a :class:`Chart` (a matplotlib Figure made without pyplot, so nothing is
drawn twice or kept alive by pyplot's registry). Text stays text in the SVG (``svg.fonttype``
none), so titles can be found, copied and read by a screen reader; point clouds of more than
:data:`RASTER_POINTS` points are rasterised inside the SVG to keep it small.
"""

from __future__ import annotations

import html as html_lib
import io
from typing import Any

import numpy as np

STYLE = {
    "figure.figsize": (9.5, 4.2), "figure.dpi": 100, "figure.constrained_layout.use": True,
    "font.size": 11, "axes.titlesize": 13, "axes.titleweight": "bold", "axes.titlelocation": "left",
    "axes.labelsize": 11, "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.alpha": 0.3, "grid.linewidth": 0.6, "legend.frameon": False, "legend.fontsize": 10,
    "xtick.labelsize": 10, "ytick.labelsize": 10, "svg.fonttype": "none",
}
RASTER_POINTS = 3000
PCT_COLORS = {50: "#2e7d32", 85: "#ef6c00", 95: "#c62828"}
STAGE_COLORS = ["#90a4ae", "#4fc3f7", "#7986cb", "#ba68c8", "#ffb74d", "#aed581", "#4db6ac", "#f06292"]
DONE_COLOR = "#66bb6a"
BAND_COLORS = ("#e8f5e9", "#fff8e1", "#fff3e0", "#ffebee")


class Chart:
    """A titled chart: a matplotlib Figure that shows itself as inline SVG in notebooks and reports."""

    def __init__(self, figure: Any, title: str) -> None:
        """Hold the figure and its title."""
        self.figure = figure
        self.title = title

    def __repr__(self) -> str:
        """Name the chart (for text-only outputs)."""
        return f"<Chart: {self.title}>"

    def svg(self) -> str:
        """The chart as an SVG document's ``<svg>`` element (no XML prolog), its text as text."""
        import matplotlib

        buf = io.StringIO()
        with matplotlib.rc_context({**STYLE, "svg.hashsalt": f"labkit:{self.title}"}):
            self.figure.savefig(buf, format="svg")
        text = buf.getvalue()
        return text[text.index("<svg"):]

    def png(self, dpi: int = 110) -> bytes:
        """The chart as PNG bytes."""
        import matplotlib

        buf = io.BytesIO()
        with matplotlib.rc_context(STYLE):
            self.figure.savefig(buf, format="png", dpi=dpi)
        return buf.getvalue()

    def html(self) -> str:
        """The chart as an HTML ``<figure>`` holding its inline SVG, labelled with its title."""
        t = html_lib.escape(self.title, quote=True)
        return (f'<figure class="labkit-chart" aria-label="{t}" title="{t}" style="margin:0.5em 0;max-width:100%">'
                f'{self.svg()}</figure>')

    def _repr_html_(self) -> str:
        """Notebooks show the chart as inline SVG."""
        return self.html()

    def save(self, path: str) -> None:
        """Write the chart to a file; the format follows the suffix (.svg, .png, .pdf)."""
        import matplotlib

        with matplotlib.rc_context(STYLE):
            self.figure.savefig(path)


def _figure(title: str, xlabel: str, ylabel: str, size: tuple[float, float] | None = None) -> tuple[Any, Any]:
    """A new Figure and Axes in the house style, titled and labelled."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=size or STYLE["figure.figsize"])
        ax = fig.add_subplot()
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    return fig, ax


def _dates(ax: Any, lo: Any, hi: Any) -> None:
    """Format the x axis as dates, clipped to [lo, hi] (a day's margin when they are equal)."""
    import matplotlib.dates as mdates
    import pandas as pd

    lo, hi = pd.Timestamp(lo), pd.Timestamp(hi)
    if hi <= lo:
        hi = lo + pd.Timedelta(days=1)
    locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlim(mdates.date2num(lo.tz_localize(None) if lo.tzinfo else lo),
                mdates.date2num(hi.tz_localize(None) if hi.tzinfo else hi))


def _naive(values: Any):
    """UTC timestamps without their zone (what matplotlib's date axis takes)."""
    import pandas as pd

    idx = pd.DatetimeIndex(values)
    return idx.tz_convert("UTC").tz_localize(None) if idx.tz is not None else idx


def _empty(ax: Any, what: str) -> None:
    """Say on the chart that there is nothing to draw."""
    ax.text(0.5, 0.5, f"no {what} in the data", transform=ax.transAxes, ha="center", va="center", color="#666")
    ax.set_xticks([])
    ax.set_yticks([])


def _pct_lines(ax: Any, pct: dict[int, float], axis: str = "y", unit: str = "d") -> None:
    """Percentile lines, each labelled with its value."""
    for p, v in pct.items():
        if np.isnan(v):
            continue
        color = PCT_COLORS.get(p, "#555")
        if axis == "y":
            ax.axhline(v, color=color, linestyle="--", linewidth=1.2, label=f"{p}th percentile: {v:.1f} {unit}")
        else:
            ax.axvline(v, color=color, linestyle="--", linewidth=1.2, label=f"{p}th percentile: {v:.1f} {unit}")


def cycle_time_scatter(cycle: Any, title: str = "Cycle time") -> Chart:
    """Each finished item at its done date and cycle time, with the 50/85/95th percentile lines."""
    from labkit.tracker.metrics import percentiles

    fig, ax = _figure(title, "Done", "Cycle time (days)")
    if cycle is None or not len(cycle):
        _empty(ax, "finished items")
        return Chart(fig, title)
    x = _naive(cycle["done"])
    y = cycle["cycle_days"].to_numpy(dtype=float)
    ax.scatter(x, y, s=14, alpha=0.55, color="#1565c0", edgecolors="none", label="item",
               rasterized=len(y) > RASTER_POINTS)
    _pct_lines(ax, percentiles(y))
    _dates(ax, x.min(), x.max())
    ax.set_ylim(0, max(1.0, float(np.nanmax(y)) * 1.05))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the points, never over them
    return Chart(fig, title)


def cycle_time_histogram(cycle: Any, title: str = "Cycle time distribution") -> Chart:
    """How many items took each number of days (one bar per day, or wider for long tails), with percentiles."""
    from labkit.tracker.metrics import percentiles

    fig, ax = _figure(title, "Cycle time (days)", "Items")
    if cycle is None or not len(cycle):
        _empty(ax, "finished items")
        return Chart(fig, title)
    y = cycle["cycle_days"].to_numpy(dtype=float)
    top = float(np.nanmax(y)) if len(y) else 1.0
    width = max(1.0, np.ceil(top / 60))
    bins = np.arange(0, top + width + 1e-9, width)
    ax.hist(y, bins=bins, color="#90caf9", edgecolor="#1565c0", linewidth=0.5)
    _pct_lines(ax, percentiles(y), axis="x")
    ax.set_xlim(0, bins[-1])
    _whole_numbers(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return Chart(fig, title)


def throughput_chart(weekly: Any, title: str = "Weekly throughput", rolling: int = 4) -> Chart:
    """Items done per week as bars, with the rolling mean over ``rolling`` weeks as a line."""
    import pandas as pd

    fig, ax = _figure(title, "Week ending", "Items done")
    if weekly is None or not len(weekly):
        _empty(ax, "finished items")
        return Chart(fig, title)
    x = _naive(weekly.index)
    ax.bar(x, weekly.to_numpy(), width=5.5, color="#90caf9", edgecolor="none", label="items done that week")
    mean = pd.Series(weekly.to_numpy(dtype=float), index=x).rolling(rolling, min_periods=1).mean()
    ax.plot(x, mean.to_numpy(), color="#0d47a1", linewidth=2, label=f"{rolling}-week rolling mean")
    _dates(ax, x.min() - pd.Timedelta(days=4), x.max() + pd.Timedelta(days=4))
    ax.set_ylim(0, max(1, float(weekly.max()) * 1.15))
    _whole_numbers(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return Chart(fig, title)


def cumulative_flow_chart(cfd: Any, title: str = "Cumulative flow", done: str | None = None) -> Chart:
    """Items in each stage per day as stacked areas: done at the bottom, the first stage on top."""
    fig, ax = _figure(title, "Day", "Items")
    if cfd is None or not len(cfd):
        _empty(ax, "history")
        return Chart(fig, title)
    x = _naive(cfd.index)
    cols = list(cfd.columns)[::-1]
    colors = []
    for i, c in enumerate(cols):
        colors.append(DONE_COLOR if (done is not None and c == done) or (done is None and i == 0)
                      else STAGE_COLORS[(len(cols) - 1 - i) % len(STAGE_COLORS)])
    ax.stackplot(x, *[cfd[c].to_numpy() for c in cols], labels=cols, colors=colors, alpha=0.9, linewidth=0)
    _dates(ax, x.min(), x.max())
    ax.set_ylim(0, max(1, float(cfd.sum(axis=1).max()) * 1.03))
    _whole_numbers(ax)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return Chart(fig, title)


def ageing_wip_chart(ageing: Any, stages: list[str], pct: dict[int, float],
                     title: str = "Ageing work in progress") -> Chart:
    """Each item in progress by stage and age, over bands of the cycle-time percentiles."""
    fig, ax = _figure(title, "Stage", "Age (days in progress)")
    if not stages:
        _empty(ax, "stages in progress")
        return Chart(fig, title)
    oldest = float(ageing["age_days"].max()) if len(ageing) else 0.0
    known = [v for v in pct.values() if not np.isnan(v)]
    top = max([oldest] + known + [1.0]) * 1.08
    if known and oldest > 4 * max(known):  # a few very old items would flatten the bands: cut the axis
        top = 4 * max(known)
    edges = [0.0] + [pct[p] for p in (50, 85, 95) if not np.isnan(pct[p])] + [top]
    names = ["under p50", "p50 to p85", "p85 to p95", "over p95"]
    for i in range(len(edges) - 1):
        ax.axhspan(edges[i], edges[i + 1], color=BAND_COLORS[i], zorder=0,
                   label=f"{names[i]} ({edges[i]:.0f}-{edges[i + 1]:.0f} d)" if i < len(edges) - 2
                   else f"{names[i]} (over {edges[i]:.0f} d)")
    rng = np.random.default_rng(0)  # the same jitter every time
    for i, stage in enumerate(stages):
        ages = ageing.loc[ageing["stage"] == stage, "age_days"].to_numpy(dtype=float) if len(ageing) else np.empty(0)
        x = i + rng.uniform(-0.18, 0.18, len(ages))
        inside = ages <= top
        if inside.any():
            ax.scatter(x[inside], ages[inside], s=22, color="#1565c0", alpha=0.75, edgecolors="white",
                       linewidths=0.4, zorder=3, rasterized=int(inside.sum()) > RASTER_POINTS)
        if (~inside).any():  # older than the axis shows: a marker on the top edge, and how many
            ax.scatter(x[~inside], np.full(int((~inside).sum()), top * 0.985), marker="^", s=36, color="#b71c1c",
                       zorder=4, clip_on=False)
            ax.annotate(f"{int((~inside).sum())} older, up to {ages.max():.0f} d", (i, top), xytext=(0, 6),
                        textcoords="offset points", ha="center", fontsize=9, color="#b71c1c")
    ax.set_xticks(range(len(stages)), stages)
    ax.set_xlim(-0.6, len(stages) - 0.4)
    ax.set_ylim(0, top)
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    return Chart(fig, title)


def created_vs_resolved_chart(trend: Any, title: str = "Created vs resolved") -> Chart:
    """Items created and finished per period as lines, and the open backlog."""
    fig, ax = _figure(title, "Period", "Items")
    if trend is None or not len(trend):
        _empty(ax, "items")
        return Chart(fig, title)
    x = _naive(trend.index)
    ax.plot(x, trend["created"].to_numpy(), color="#ef6c00", linewidth=1.6, label="created")
    ax.plot(x, trend["resolved"].to_numpy(), color="#2e7d32", linewidth=1.6, label="resolved")
    ax2 = ax.twinx()
    ax2.fill_between(x, trend["open"].to_numpy(), color="#90a4ae", alpha=0.25, label="open (right axis)")
    ax2.set_ylabel("Open items")
    ax2.grid(False)
    ax2.set_ylim(0, max(1, float(trend["open"].max()) * 1.1))
    _dates(ax, x.min(), x.max())
    lines = ax.get_legend_handles_labels()
    fills = ax2.get_legend_handles_labels()
    _whole_numbers(ax)
    ax.legend(lines[0] + fills[0], lines[1] + fills[1], loc="upper left", bbox_to_anchor=(1.08, 1.0))
    return Chart(fig, title)


def forecast_chart(forecast: Any, title: str | None = None) -> Chart:
    """The trials' outcomes as a histogram, with the 50/85/95% answers marked."""
    q = forecast.question
    if q == "how many":
        end = (forecast.start.normalize() + _days(forecast.days - 1)).date()
        title = title or f"How many items by {end}"
        fig, ax = _figure(title, "Items done", "Trials")
    else:
        n = forecast.items
        title = title or (f"When will {n} items be done" if q == "when" else
                          f"When will {forecast.detail.get('key')} and its {max(0, n - 1)} open blockers be done")
        fig, ax = _figure(title, f"Days from {forecast.start.date()}", "Trials")
    hist = forecast.histogram()
    ax.bar(hist.index.to_numpy(), hist.to_numpy(), width=0.9, color="#b39ddb", edgecolor="none")
    for p in (50, 85, 95):
        v = forecast.likely(p)
        label = f"{p}% likely: {v} items or more" if q == "how many" else f"{p}% likely: by {forecast.date(p).date()}"
        ax.axvline(v, color=PCT_COLORS[p], linestyle="--", linewidth=1.4, label=label)
    lo, hi = float(hist.index.min()), float(hist.index.max())
    ax.set_xlim(lo - 1, hi + 1)
    _whole_numbers(ax, "both")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return Chart(fig, title)


def count_bars(counts: Any, title: str, xlabel: str, ylabel: str = "Issues") -> Chart:
    """Counts side by side as labelled bars (``counts``: a mapping or Series of label -> count)."""
    fig, ax = _figure(title, xlabel, ylabel)
    items = list(dict(counts).items())
    if not items:
        _empty(ax, "counts")
        return Chart(fig, title)
    labels, values = [str(k) for k, _ in items], [int(v) for _, v in items]
    bars = ax.bar(labels, values, color="#90caf9", edgecolor="#0d47a1")
    ax.bar_label(bars, labels=[str(v) for v in values], padding=2)
    ax.set_ylim(0, max(1, max(values)) * 1.15)
    _whole_numbers(ax)
    return Chart(fig, title)


def _whole_numbers(ax: Any, axis: str = "y") -> None:
    """Tick an axis of counts at whole numbers only."""
    from matplotlib.ticker import MaxNLocator

    if axis in ("y", "both"):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if axis in ("x", "both"):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _days(n: int) -> Any:
    """A pandas Timedelta of n days."""
    import pandas as pd

    return pd.Timedelta(days=int(n))

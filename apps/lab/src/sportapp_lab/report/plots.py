"""The run's figures as PNG files: every request's latency on a timeline, and throughput and errors.

Figures are built on ``matplotlib.figure.Figure`` directly (rendered by Agg), never through
``pyplot``: no display, no global figure registry, safe to call from any thread or test.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.typing import LineStyleType

from sportapp_lab.records import GENERATOR_SATURATED, RequestRecord

# The monitor's events worth a vertical line, each with its colour and line style.
MARKED_EVENTS: dict[str, tuple[str, LineStyleType]] = {
    "down": ("tab:red", ":"),
    "failover_started": ("tab:orange", "--"),
    "failover_done": ("tab:orange", "-"),
    "config_live": ("tab:blue", "-."),
    "restart_issued": ("tab:purple", ":"),
    "failback_started": ("tab:green", "--"),
    "failback_done": ("tab:green", "-"),
}
OUTCOME_COLOURS = {
    "ok": "tab:green",
    "HTTP 4xx": "tab:orange",
    "HTTP 5xx": "tab:red",
    "timeout": "tab:purple",
    "connection": "black",
    GENERATOR_SATURATED: "tab:gray",
    "other": "tab:brown",
}
SERVED_BY_MARKERS = ("o", "^", "s", "D", "v", "P", "*")
# Latency is plotted on a log axis, where 0 ms (a request never sent) has no place.
MIN_PLOTTED_LATENCY_MS = 0.1


def outcome(record: RequestRecord) -> str:
    """The outcome class a point is coloured by."""
    if record.ok:
        return "ok"
    if record.error is not None:
        return record.error if record.error in OUTCOME_COLOURS else "other"
    if record.status is not None and 400 <= record.status < 500:
        return "HTTP 4xx"
    if record.status is not None and record.status >= 500:
        return "HTTP 5xx"
    return "other"


def write_figures(
    records: Sequence[RequestRecord],
    events: Sequence[Mapping[str, Any]],
    faults: Sequence[Mapping[str, Any]],
    out_dir: Path,
    *,
    start: float | None = None,
) -> dict[str, Path]:
    """Write ``timeline.png`` and ``throughput.png`` into ``out_dir``; return them by name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    origin = _origin(records, start)
    return {
        "timeline": plot_timeline(records, events, faults, out_dir / "timeline.png", start=origin),
        "throughput": plot_throughput(records, events, faults, out_dir / "throughput.png", start=origin),
    }


def plot_timeline(
    records: Sequence[RequestRecord],
    events: Sequence[Mapping[str, Any]],
    faults: Sequence[Mapping[str, Any]],
    path: Path,
    *,
    start: float | None = None,
) -> Path:
    """Latency of every request against the time it was due, with faults and monitor events."""
    origin = _origin(records, start)
    figure = Figure(figsize=(13, 6.5), layout="constrained")
    axes = figure.add_subplot()
    named = sorted({record.served_by for record in records if record.served_by})
    markers = {name: SERVED_BY_MARKERS[i % len(SERVED_BY_MARKERS)] for i, name in enumerate(named)}
    # No answer, no instance: a cross stands out among the filled markers.
    markers["(none)"] = "x"
    servers = [*named, "(none)"] if any(record.served_by is None for record in records) else named
    groups: dict[tuple[str, str], list[RequestRecord]] = {}
    for record in records:
        groups.setdefault((outcome(record), record.served_by or "(none)"), []).append(record)
    for (kind, server), members in sorted(groups.items()):
        axes.scatter(
            [r.scheduled_at - origin for r in members],
            [max(r.latency_ms, MIN_PLOTTED_LATENCY_MS) for r in members],
            s=14,
            c=OUTCOME_COLOURS.get(kind, OUTCOME_COLOURS["other"]),
            marker=markers[server],
            alpha=0.6,
            linewidths=0.8 if markers[server] == "x" else 0,
        )
    axes.set_yscale("log")
    axes.set_xlabel("seconds since the start of the load (time the request was due)")
    axes.set_ylabel("latency from the schedule (ms, log scale)")
    axes.set_title("Every request: latency, outcome (colour) and instance that answered (marker)")
    axes.grid(True, which="both", alpha=0.2)
    event_handles = _mark_instants(axes, events, faults, origin, label_faults=True)
    counts = Counter(outcome(record) for record in records)
    outcome_handles = [
        Line2D([], [], linestyle="", marker="o", color=colour, label=f"{name} ({counts[name]})")
        for name, colour in OUTCOME_COLOURS.items()
        if counts[name]
    ]
    server_handles = [
        Line2D([], [], linestyle="", marker=markers[name], color="dimgray", label=name) for name in servers
    ]
    axes.legend(
        handles=outcome_handles + server_handles + event_handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize="small",
        title="outcome / served by / instants",
        title_fontsize="small",
    )
    figure.savefig(path, dpi=110)
    return path


def plot_throughput(
    records: Sequence[RequestRecord],
    events: Sequence[Mapping[str, Any]],
    faults: Sequence[Mapping[str, Any]],
    path: Path,
    *,
    start: float | None = None,
) -> Path:
    """Requests due each second by outcome (top) and the share that failed (bottom)."""
    origin = _origin(records, start)
    seconds = max((math.floor(r.scheduled_at - origin) for r in records), default=0) + 1
    ok = [0] * seconds
    failed = [0] * seconds
    for record in records:
        second = max(0, math.floor(record.scheduled_at - origin))
        if record.ok:
            ok[second] += 1
        else:
            failed[second] += 1
    x = list(range(seconds))
    figure = Figure(figsize=(13, 7), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    top.bar(x, ok, width=1.0, align="edge", color=OUTCOME_COLOURS["ok"], label="ok")
    top.bar(x, failed, width=1.0, align="edge", bottom=ok, color=OUTCOME_COLOURS["HTTP 5xx"], label="failed")
    top.set_ylabel("requests due in that second")
    top.set_title("Throughput and errors per second (by the second each request was due)")
    top.grid(True, alpha=0.2)
    rates = [100.0 * f / (o + f) if o + f else 0.0 for o, f in zip(ok, failed, strict=True)]
    # The extra point closes the last second's step.
    bottom.step([*x, seconds], [*rates, rates[-1]], where="post", color=OUTCOME_COLOURS["HTTP 5xx"])
    bottom.set_ylim(0, 100)
    bottom.set_ylabel("failed (%)")
    bottom.set_xlabel("seconds since the start of the load")
    bottom.grid(True, alpha=0.2)
    handles = _mark_instants(top, events, faults, origin, label_faults=True)
    _mark_instants(bottom, events, faults, origin, label_faults=False)
    top.legend(
        handles=[*top.get_legend_handles_labels()[0], *handles],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize="small",
    )
    figure.savefig(path, dpi=110)
    return path


def _mark_instants(
    axes: Axes,
    events: Sequence[Mapping[str, Any]],
    faults: Sequence[Mapping[str, Any]],
    origin: float,
    *,
    label_faults: bool,
) -> list[Line2D]:
    """Vertical lines for the faults and the monitor's events; legend handles for those drawn."""
    handles: list[Line2D] = []
    seen: set[str] = set()
    for event in events:
        name = str(event.get("event"))
        if name not in MARKED_EVENTS or "t_mono" not in event:
            continue
        colour, style = MARKED_EVENTS[name]
        axes.axvline(float(event["t_mono"]) - origin, color=colour, linestyle=style, linewidth=1.0, alpha=0.8)
        if name not in seen:
            seen.add(name)
            handles.append(Line2D([], [], color=colour, linestyle=style, label=f"monitor: {name}"))
    for fault in faults:
        at = float(fault["t_mono"]) - origin
        axes.axvline(at, color="crimson", linewidth=2.0)
        if label_faults:
            axes.annotate(
                f"{fault.get('name', 'fault')} → {fault.get('target', '?')}",
                xy=(at, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -12),
                textcoords="offset points",
                rotation=90,
                va="top",
                fontsize="small",
                color="crimson",
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
            )
    if faults:
        handles.insert(0, Line2D([], [], color="crimson", linewidth=2.0, label="injected fault"))
    return handles


def _origin(records: Sequence[RequestRecord], start: float | None) -> float:
    if start is not None:
        return start
    return min((record.scheduled_at for record in records), default=0.0)

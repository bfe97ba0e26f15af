"""The Markdown report of a run: the verdict first, then the figures and the numbers behind them."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# (label, key in the report, unit) for the table of figures, in reading order.
FIGURE_ROWS: tuple[tuple[str, str, str], ...] = (
    ("requests offered per second", "rate_per_s", ""),
    ("registrations offered, share of the capacity", "utilisation", "ratio"),
    ("availability (registrations)", "availability", "ratio"),
    ("availability (all requests)", "availability_overall", "ratio"),
    ("availability (reads)", "availability_reads", "ratio"),
    ("requests", "requests_total", ""),
    ("requests answered correctly", "requests_ok", ""),
    ("detection (fault to monitor's down)", "detection_ms", "ms"),
    ("away (fault to the monitor's next up of the faulted part)", "away_ms", "ms"),
    ("failover (fault to first registration served elsewhere)", "failover_ms", "ms"),
    ("recovery (fault to the instance ready again / restored service)", "recovery_ms", "ms"),
    ("service restored (fault to first success after the last failure)", "service_restored_ms", "ms"),
    ("registrations acknowledged", "registrations_acknowledged", ""),
    ("registrations lost", "registrations_lost", ""),
    ("registrations duplicated", "registrations_duplicated", ""),
    ("registrations stored but not acknowledged", "registrations_stored_unacknowledged", ""),
    ("registrations stored although refused (4xx)", "registrations_refused_but_stored", ""),
    ("registrations acknowledged with another id than stored", "registrations_id_mismatch", ""),
    ("registrations acknowledged without an address to verify", "registrations_unverifiable", ""),
    ("failovers", "failovers", ""),
    ("false failovers", "false_failovers", ""),
    ("incidents before the load (down, restart, failover)", "startup_incidents", ""),
    ("incidents during the load before the fault", "incidents_before_fault", ""),
    ("failbacks", "failbacks", ""),
    ("client transport retries", "client_retries", ""),
    ("requests the generator could not send", "generator_saturated", ""),
    ("duration", "duration_s", "s"),
)


def write_report_md(
    report: Mapping[str, Any],
    failed_checks: Sequence[str],
    figures: Mapping[str, Path],
    path: Path,
) -> Path:
    """Write the Markdown report to ``path``, linking ``figures`` relative to it; return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report_md(report, failed_checks, figures, path.parent), encoding="utf-8")
    return path


def render_report_md(
    report: Mapping[str, Any],
    failed_checks: Sequence[str],
    figures: Mapping[str, Path],
    base: Path,
) -> str:
    """The report's Markdown text, with figure links relative to ``base``."""
    lines = [f"# Experiment `{report.get('scenario')}` (masking {_on_off(report.get('masking'))})", ""]
    if report.get("backend"):
        lines += [
            f"Stores on **{report['backend']}**, events to consulta through "
            f"**{report.get('event_transport')}**.",
            "",
        ]
    lines += _verdict(report, failed_checks)
    lines += _capacity(report.get("capacity"), report.get("rate_per_s"))
    lines += ["", "## Figures", ""]
    titles = {
        "timeline": "Latency of every request (from its scheduled time), faults and monitor events",
        "throughput": "Requests per second by outcome, and the share that failed",
    }
    for name, figure in figures.items():
        link = Path(os.path.relpath(figure, base)).as_posix()
        lines += [f"![{titles.get(name, name)}]({link})", ""]
    lines += ["## The numbers", "", "| figure | value |", "| --- | --- |"]
    lines += [f"| {label} | {_value(report.get(key), unit)} |" for label, key, unit in FIGURE_ROWS]
    lines += _summary_table("registration latency from the schedule, all sent (ms)", report.get("latency_ms"))
    lines += _summary_table("registration latency, successful only (ms)", report.get("latency_ok_ms"))
    lines += _summary_table("read latency (ms)", report.get("read_latency_ms"))
    lines += _summary_table("read model lag (ms)", report.get("read_model_lag_ms"))
    lines += _faults_table(report.get("faults") or [])
    lines += _phases_table(report.get("failures_by_phase") or {})
    lines += ["", "## Failures by cause", "", "```json", _json(report.get("requests_failed")), "```"]
    lines += ["", "## Served by (registrations)", "", "| instance | requests |", "| --- | --- |"]
    lines += [f"| {name} | {count} |" for name, count in sorted((report.get("served_by") or {}).items())]
    if (report.get("invalid_emails") or {}).get("sent"):
        lines += ["", "## Deliberately invalid addresses", "", "```json"]
        lines += [_json(report["invalid_emails"]), "```"]
    lines += ["", "## Monitor events", "", "```json", _json(report.get("monitor_events")), "```"]
    lines += ["", "## Parameters", "", "```json", _json(report.get("parameters")), "```"]
    lines += ["", "## Versions", "", "```json", _json(report.get("versions")), "```", ""]
    return "\n".join(lines)


def _verdict(report: Mapping[str, Any], failed_checks: Sequence[str]) -> list[str]:
    if failed_checks:
        lines = ["## ❌ THE HYPOTHESIS WAS REFUTED", "", "Failed checks:", ""]
        lines += [f"- **{check}**" for check in failed_checks]
    else:
        lines = [
            "## ✅ THE HYPOTHESIS HELD",
            "",
            "Every check passed: registration stayed available within the thresholds, and no "
            "registration was lost or duplicated.",
        ]
    lost = report.get("registrations_lost")
    duplicated = report.get("registrations_duplicated")
    lines.append("")
    if lost:
        lines.append(
            f"> **⚠ {lost} ACKNOWLEDGED REGISTRATION(S) LOST**: the client got a 201, the store has no user."
        )
    if duplicated:
        lines.append(f"> **⚠ {duplicated} REGISTRATION(S) DUPLICATED** in the store.")
    if lost is None or duplicated is None:
        lines.append("> **Loss and duplication were not verified in this run.**")
    elif not lost and not duplicated:
        acknowledged = report.get("registrations_acknowledged")
        lines.append(f"No registration was lost or duplicated ({acknowledged} acknowledged).")
    return lines


def _capacity(capacity: Any, rate: Any) -> list[str]:
    if rate is None:
        return []
    if not isinstance(capacity, Mapping):
        return ["", f"Load: {_value(rate, '')} requests/s, as given."]
    how = (
        "measured in this run by a step ramp through the gateway"
        if capacity.get("method") == "measured"
        else f"measured {float(capacity.get('age_s') or 0) / 60:.0f} min before this run on this machine"
    )
    machine = capacity.get("machine") or {}
    return [
        "",
        f"Load: {_value(rate, '')} requests/s, against a capacity of "
        f"**{_value(capacity.get('per_s'), '')} registrations/s** ({how}; {machine.get('cpus')} cores, "
        f"{machine.get('cpu') or 'processor unknown'}).",
    ]


PHASES = (
    ("no_fault", "no fault injected"),
    ("before_fault", "before the fault"),
    ("fault_to_recovery", "from the fault to recovery"),
    ("after_recovery", "after recovery"),
)


def _phases_table(phases: Mapping[str, Any]) -> list[str]:
    lines = ["", "## Registrations failed, by phase", "", "| phase | registrations | failed | causes |",
             "| --- | --- | --- | --- |"]
    for key, label in PHASES:
        if key not in phases:
            continue
        failed = phases[key].get("failed") or {}
        causes = {**{k: v for k, v in failed.items() if k not in ("total", "status")},
                  **{f"HTTP {code}": n for code, n in (failed.get("status") or {}).items()}}
        shown = ", ".join(f"{name}: {count}" for name, count in causes.items()) or "—"
        lines.append(f"| {label} | {phases[key].get('requests')} | {failed.get('total', 0)} | {shown} |")
    return lines


def _summary_table(title: str, summary: Any) -> list[str]:
    if not isinstance(summary, Mapping):
        return []
    keys = [key for key in ("p50", "p95", "p99", "max", "count") if key in summary]
    return [
        "",
        f"**{title}**",
        "",
        "| " + " | ".join(keys) + " |",
        "| " + " | ".join("---" for _ in keys) + " |",
        "| " + " | ".join(_value(summary[key], "") for key in keys) + " |",
    ]


def _faults_table(faults: Sequence[Mapping[str, Any]]) -> list[str]:
    if not faults:
        return ["", "No fault was injected in this run."]
    lines = [
        "",
        "## Faults",
        "",
        "| fault | target | detection (ms) | failover (ms) | recovery (ms) | service restored (ms) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for fault in faults:
        cells = [
            fault.get("name"),
            fault.get("target"),
            *(
                _value(fault.get(key), "")
                for key in ("detection_ms", "failover_ms", "recovery_ms", "service_restored_ms")
            ),
        ]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return lines


def _value(value: Any, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ratio" and isinstance(value, float):
        return f"{value:.4%}"
    text = f"{value:,.1f}" if isinstance(value, float) else str(value)
    return f"{text} {unit}" if unit and unit != "ratio" else text


def _on_off(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)

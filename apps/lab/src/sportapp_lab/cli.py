"""``sportapp experiment`` and ``sportapp report``: the experiment's command line."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from sportapp_lab.analysis import MONITOR_FIGURES, build_report
from sportapp_lab.experiment import (
    DEFAULT_LOAD_SHARE,
    ExperimentOptions,
    ExperimentOutcome,
    run_experiment,
)
from sportapp_lab.faults import SCENARIOS
from sportapp_lab.jmeter.jtl import JTLFormatError, read_jtl
from sportapp_lab.jmeter.run import JMeterFailed, JMeterUnavailable, find_jmeter
from sportapp_lab.load import LoadProgress
from sportapp_lab.records import write_records_csv
from sportapp_lab.report.markdown import write_report_md
from sportapp_lab.report.plots import write_figures
from sportapp_lab.verdict import Expectations, hypothesis_holds
from sportapp_stack.config import BACKENDS, ConfigError, find_root
from sportapp_stack.stack import StackError

# --expect's short names, and the Expectations field each one sets.
EXPECTATION_NAMES = {
    "availability": "min_availability",
    "lost": "max_lost",
    "duplicated": "max_duplicated",
    "stored_unacknowledged": "max_stored_unacknowledged",
    "refused_but_stored": "max_refused_but_stored",
    "id_mismatch": "max_id_mismatch",
    "unverifiable": "max_unverifiable",
    "false_failovers": "max_false_failovers",
    "startup_incidents": "max_startup_incidents",
    "incidents_before_fault": "max_incidents_before_fault",
    "generator_saturated": "max_generator_saturated",
    "detection_ms": "max_detection_ms",
    "failover_ms": "max_failover_ms",
    "recovery_ms": "max_recovery_ms",
    "p99_ms": "max_p99_ms",
}


def parse_expectations(items: tuple[str, ...]) -> Expectations:
    """``("availability=0.99", "p99_ms=none")`` on top of the defaults."""
    values: dict[str, Any] = {}
    for item in items:
        name, _, raw = item.partition("=")
        if name not in EXPECTATION_NAMES or not raw:
            raise click.BadParameter(
                f"{item!r}: use NAME=VALUE with NAME one of {', '.join(EXPECTATION_NAMES)}",
                param_hint="--expect",
            )
        try:
            values[EXPECTATION_NAMES[name]] = None if raw.lower() == "none" else float(raw)
        except ValueError:
            raise click.BadParameter(f"{item!r}: {raw!r} is not a number", param_hint="--expect") from None
    return replace(Expectations(), **values)


@click.command()
@click.option("--scenario", type=click.Choice([*SCENARIOS, "all"]), default="kill-primary",
              show_default=True, help="The fault to inject ('all': each in turn).")
@click.option("--duration", "duration_s", type=click.FloatRange(2), default=60.0, show_default=True,
              help="Seconds of load per scenario.")
@click.option("--rate", type=click.FloatRange(0.5, 500), default=None,
              help="Requests per second (open loop: sent on schedule whatever the answers). "
                   "Default: --load-share of the registrations/s this machine sustains, measured "
                   "by a short step ramp before the load (and kept in var/capacity.json for 6 h).")
@click.option("--load-share", type=click.FloatRange(0.05, 2.0), default=DEFAULT_LOAD_SHARE,
              show_default=True, help="Without --rate: the share of the capacity offered.")
@click.option("--remeasure", is_flag=True,
              help="Measure the capacity again, even if this machine has a recent figure.")
@click.option("--read-share", type=click.FloatRange(0, 1), default=0.2, show_default=True,
              help="Share of the requests that read through consulta.")
@click.option("--load", type=click.Choice(["python", "jmeter"]), default="python", show_default=True,
              help="Load generator: the built-in asyncio one, or JMeter 5.x from PATH.")
@click.option("--masking", type=click.Choice(["on", "off"]), default="on", show_default=True,
              help="Whether NGINX retries a failed registration on the standby.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Report folder (default: ./var/experiments/<timestamp>/).")
@click.option("--expect", "expect_items", multiple=True, metavar="NAME=VALUE",
              help="A threshold of the hypothesis, e.g. availability=0.999, p99_ms=2000, lost=0 "
                   "('none' unsets one). Repeatable.")
@click.option("--root", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="The repository (default: found from the current folder).")
@click.option("--backend", type=click.Choice(BACKENDS), default="sqlite", show_default=True,
              help="The stores: SQLite files, or a fresh PostgreSQL database of the run's own (on "
                   "SPORTAPP_POSTGRES_URL's server) with consulta fed through Redis Streams.")
@click.option("--keep", "keep_database", is_flag=True,
              help="With --backend postgres: keep the run's database and stream afterwards.")
def experiment(
    scenario: str,
    duration_s: float,
    rate: float | None,
    load_share: float,
    remeasure: bool,
    read_share: float,
    load: str,
    masking: str,
    out_dir: Path | None,
    expect_items: tuple[str, ...],
    root: Path | None,
    backend: str,
    keep_database: bool,
) -> None:
    """Run the experiment: a fresh stack, open-loop load, an injected fault, a verified report.

    Exits 0 when the hypothesis held, 1 when it did not (including any registration acknowledged
    but lost, or stored twice).
    """
    # Wide enough for the summary table when the output is a file or a CI log, not a terminal.
    console = Console(width=None if sys.stdout.isatty() else 150)
    expect = parse_expectations(expect_items)
    names = list(SCENARIOS) if scenario == "all" else [scenario]
    if load == "jmeter":
        # The JMeter plan sends valid addresses only: a scenario whose fault is an invalid one would
        # run without its fault. Refused here rather than reported as a run that injected nothing.
        needs_invalid = [name for name in names if SCENARIOS[name].invalid_emails]
        if needs_invalid:
            raise click.ClickException(
                f"--load jmeter cannot run {', '.join(needs_invalid)}: its fault is an invalid e-mail "
                "address, which the JMeter plan never sends; run it with --load python"
                + (" (or pick another --scenario than all)" if scenario == "all" else "")
            )
        try:
            found = find_jmeter()
        except JMeterUnavailable as error:
            raise click.ClickException(str(error)) from None
        console.print(f"load: JMeter {found.version} at {found.path}")
    try:
        repository = (root or find_root()).resolve()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = (out_dir or Path("var") / "experiments" / stamp).resolve()
    capacity_cache = repository / "var" / "capacity.json"
    if remeasure:
        capacity_cache.unlink(missing_ok=True)
    outcomes: list[ExperimentOutcome] = []
    for name in names:
        options = ExperimentOptions(
            scenario=name,
            duration_s=duration_s,
            rate=rate,
            load_share=load_share,
            capacity_cache=capacity_cache,
            read_share=read_share,
            load=load,
            masking=masking == "on",
            out_dir=base / name if len(names) > 1 else base,
            root=repository,
            expect=expect,
            backend=backend,
            keep_database=keep_database,
        )
        try:
            outcomes.append(_run_with_progress(console, options))
        # What the user can act on ends as a message, not a traceback: a stack that did not start,
        # a JMeter missing or failing, a JTL this reader cannot trust.
        except (StackError, ConfigError, JMeterUnavailable, JMeterFailed, JTLFormatError) as error:
            raise click.ClickException(f"{name}: {error}") from None
    console.print(summary_table(outcomes))
    for outcome in outcomes:
        verdict = "[green]HELD[/]" if outcome.held else "[red]REFUTED[/]"
        console.print(f"{outcome.report['scenario']}: {verdict}  report: {outcome.out_dir / 'report.md'}")
        for check in outcome.failed_checks:
            console.print(f"  [red]x[/] {check}")
    if not all(outcome.held for outcome in outcomes):
        raise SystemExit(1)


def _run_with_progress(console: Console, options: ExperimentOptions) -> ExperimentOutcome:
    columns = (
        TextColumn("[bold]{task.fields[scenario]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sent"),
        TextColumn("[green]{task.fields[ok]} ok[/] [red]{task.fields[failed]} failed[/] "
                   "{task.fields[in_flight]} in flight"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        # Unknown until the rate is (a share of the capacity, measured first).
        task = progress.add_task("load", total=None, scenario=options.scenario, ok=0, failed=0,
                                 in_flight=0)

        def on_progress(update: LoadProgress) -> None:
            progress.update(task, total=update.planned, completed=update.sent, ok=update.ok,
                            failed=update.failed, in_flight=update.in_flight)

        def on_stage(text: str) -> None:
            progress.console.print(f"[dim]{options.scenario}: {text}[/]")

        return run_experiment(options, on_progress, on_stage)


def summary_table(outcomes: list[ExperimentOutcome]) -> Table:
    """One row per scenario: what clients saw, what the stores hold, and the verdict."""
    table = Table(title="SportApp experiment")
    for column in ("scenario", "masking", "capacity/s", "rate/s", "requests", "availability",
                   "p50 ms", "p99 ms", "detection ms", "failover ms", "recovery ms", "lost",
                   "duplicated", "verdict"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for outcome in outcomes:
        report = outcome.report
        latency = report.get("latency_ms") or {}
        table.add_row(
            str(report["scenario"]),
            "on" if report["masking"] else "off",
            _number((report.get("capacity") or {}).get("per_s"), "{:.1f}"),
            _number(report.get("rate_per_s"), "{:.1f}"),
            str(report["requests_total"]),
            _number(report.get("availability"), "{:.4f}"),
            _number(latency.get("p50")),
            _number(latency.get("p99")),
            _number(report.get("detection_ms")),
            _number(report.get("failover_ms")),
            _number(report.get("recovery_ms")),
            _number(report.get("registrations_lost"), "{}"),
            _number(report.get("registrations_duplicated"), "{}"),
            "[green]held[/]" if outcome.held else "[red]refuted[/]",
        )
    return table


def _number(value: Any, shape: str = "{:.0f}") -> str:
    return "-" if value is None else shape.format(value)


@click.command()
@click.option("--jtl", "jtl_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              required=True, help="A JMeter results file (CSV JTL with field names).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Report folder (default: next to the JTL).")
@click.option("--scenario", default="external", show_default=True, help="The name the report gives the run.")
@click.option("--masking", type=click.Choice(["on", "off", "unknown"]), default="unknown")
def report(jtl_path: Path, out_dir: Path | None, scenario: str, masking: str) -> None:
    """Build the experiment's report from a JTL produced elsewhere (no store verification).

    Exits 0 when every check that a JTL alone can answer passed, 1 when one did not (listed).
    """
    try:
        records = read_jtl(jtl_path)
    except JTLFormatError as error:
        raise click.ClickException(str(error)) from None
    target = (out_dir or jtl_path.parent / f"{jtl_path.stem}-report").resolve()
    target.mkdir(parents=True, exist_ok=True)
    built = build_report(records, scenario=scenario, masking=masking == "on")
    built["verification"] = "not performed: the stores of that run are not here"
    # Nor are the monitor's events: its figures are unknown, not zero.
    built.update({figure: None for figure in MONITOR_FIGURES})
    failed = hypothesis_holds(built, Expectations().answerable_from_clients_alone())
    write_records_csv(records, target / "requests.csv")
    (target / "report.json").write_text(json.dumps({**built, "failed_checks": failed}, indent=2, default=str))
    figures = write_figures(records, [], [], target)
    write_report_md(built, failed, figures, target / "report.md")
    click.echo(f"{len(records)} samples; report: {target / 'report.md'}")
    for check in failed:
        click.echo(f"  x {check}")
    if failed:
        raise SystemExit(1)

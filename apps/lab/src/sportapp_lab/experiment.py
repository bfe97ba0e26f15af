"""One experiment run, end to end: start a fresh stack, load it, inject the scenario's faults,
verify the stores, and write the report (JSON, Markdown, figures, raw CSV)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sportapp_core.adapters.argon2_hasher import Argon2Parameters
from sportapp_lab.analysis import build_report
from sportapp_lab.capacity import Capacity, CapacityCache, describe_step, measure_capacity
from sportapp_lab.faults import SCENARIOS, FaultInjector, Scenario, ScenarioPlayer
from sportapp_lab.jmeter.jtl import read_jtl
from sportapp_lab.jmeter.run import run_jmeter
from sportapp_lab.load import LoadProgress, run_load_sync
from sportapp_lab.metrics import registro_metrics
from sportapp_lab.provenance import software_versions
from sportapp_lab.records import RequestRecord, write_records_csv
from sportapp_lab.report.markdown import write_report_md
from sportapp_lab.report.plots import write_figures
from sportapp_lab.verdict import Expectations, hypothesis_holds
from sportapp_lab.verification import verify_registrations
from sportapp_lab.workload import LoadConfig
from sportapp_ops.event_log import read_events
from sportapp_stack.backends import new_run_id, stores_dropped_on_failure, with_backend
from sportapp_stack.config import PORT_FIELDS, StackConfig, free_ports
from sportapp_stack.programs import worker_settings
from sportapp_stack.redundancy import NotRedundant, wait_redundant
from sportapp_stack.stack import Stack

# Longest unix-socket path supervisord can bind (sun_path is 108 bytes with its NUL).
_MAX_SOCKET_PATH = 100


# The share of the measured capacity the experiment offers when no rate is given.
DEFAULT_LOAD_SHARE = 0.5


@dataclass(frozen=True)
class ExperimentOptions:
    """What one run does."""

    scenario: str
    duration_s: float = 60.0
    # Requests per second; None: ``load_share`` of the capacity measured on this machine.
    rate: float | None = None
    load_share: float = DEFAULT_LOAD_SHARE
    # Where a measured capacity is kept for the next runs (None: measure every time).
    capacity_cache: Path | None = None
    read_share: float = 0.2
    load: str = "python"
    masking: bool = True
    out_dir: Path = Path("var/experiments")
    root: Path = Path(".")
    # StackConfig port fields (gateway_port, ...); the ones not given are free ports picked here.
    ports: Mapping[str, Any] = field(default_factory=dict)
    expect: Expectations = field(default_factory=Expectations)
    # After the load stops: how long the stack gets to finish recovering (failback) before the
    # stores are checked.
    settle_s: float = 10.0
    # "sqlite", or "postgres": a database of the run's own, and consulta fed through Redis Streams.
    backend: str = "sqlite"
    # Keep the run's PostgreSQL database (and stream) after the run.
    keep_database: bool = False


@dataclass(frozen=True)
class ExperimentOutcome:
    """The report of a run, the checks it failed, and where its files are."""

    report: dict[str, Any]
    failed_checks: list[str]
    out_dir: Path

    @property
    def held(self) -> bool:
        """Whether the hypothesis held (every check passed)."""
        return not self.failed_checks


def run_experiment(
    options: ExperimentOptions,
    on_progress: Callable[[LoadProgress], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> ExperimentOutcome:
    """Run ``options.scenario`` once on a fresh local stack and write its report."""
    scenario = SCENARIOS[options.scenario]
    stage = on_stage or (lambda _text: None)
    out_dir = options.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    var_dir = _work_dir(out_dir / "stack")
    # Free ports unless told otherwise: the run must not collide with a stack already up.
    missing = [name for name in PORT_FIELDS if name not in options.ports]
    ports = {**dict(zip(missing, free_ports(len(missing)), strict=True)), **options.ports}
    config = StackConfig(
        var_dir=var_dir,
        root=options.root.resolve(),
        masking=options.masking,
        fault_injection=scenario.fault_injection,
        seed_crash=scenario.seed_crash,
        # The load comes from one address: the gateway's per-client limit must not be the fault
        # (the capacity ramp offers up to a few times what the machine sustains).
        registration_rate="2000r/s",
        registration_burst=4000,
        backend=options.backend,
        keep_database=options.keep_database,
        **ports,
    )
    # A run's monitor events are its own: a run again into the same --out must not read the last
    # one's as incidents before its load.
    config.monitor_event_log.unlink(missing_ok=True)
    config = with_backend(config, new_run_id())
    with stores_dropped_on_failure(config):
        stack = Stack(config)
        stage(f"starting a fresh stack in {var_dir}")
        stack.start(fresh=True)
    try:
        capacity = _capacity(options, stack, stage)
        rate = _rate(options, capacity)
        stage(f"offering {rate:g} requests/s" + (
            f" ({options.load_share:.0%} of the {capacity.per_s:g} registrations/s this machine "
            "sustains)" if capacity is not None else ""
        ))
        player = ScenarioPlayer(scenario, FaultInjector(stack), options.duration_s)
        stage(f"{scenario.name}: {scenario.description}")
        player.start()
        records = _load(options, rate, scenario, config, out_dir, on_progress)
        player.stop()
        stage("letting the stack settle")
        monitor_settings = _settle(config, options.settle_s)
        stage("verifying the write store and the read model")
        verification = verify_registrations(
            records, store_url=config.write_store_url, read_store_url=config.consulta_store_url
        )
        events = read_events(config.monitor_event_log)
    finally:
        stage("stopping the stack")
        stack.stop()
    faults = [fault.as_dict() for fault in player.run.faults]
    faults += _seed_crash_faults(records) if scenario.seed_crash else []
    report = build_report(
        records,
        scenario=scenario.name,
        masking=options.masking,
        events=events,
        faults=faults,
        verification=verification.counts(),
        read_model_lags_ms=verification.read_model_lags_ms,
        parameters=_parameters(options, rate, scenario, config, monitor_settings),
        versions=software_versions(),
    )
    report["capacity"] = capacity.as_dict() if capacity is not None else None
    report["rate_per_s"] = rate
    # Registrations offered, as a share of what the machine sustains.
    report["utilisation"] = (
        round(rate * (1 - options.read_share) / capacity.per_s, 3) if capacity is not None else None
    )
    report["verification"] = {
        **verification.counts(),
        "read_model_caught_up": verification.read_model_caught_up,
        "lost_examples": verification.lost_examples,
    }
    report["backend"] = config.backend
    report["event_transport"] = config.event_transport
    report["injection_errors"] = player.errors
    failed = hypothesis_holds(report, options.expect)
    if player.errors:
        failed.append(f"fault injection failed: {player.errors}")
    _write(out_dir, report, failed, records, events, faults)
    shutil.rmtree(var_dir / "data", ignore_errors=True)
    return ExperimentOutcome(report, failed, out_dir)


def _capacity(
    options: ExperimentOptions, stack: Stack, stage: Callable[[str], None]
) -> Capacity | None:
    """The capacity the rate is a share of: cached for this machine, or measured on ``stack``
    now (a short step ramp through its gateway). None when the rate was given."""
    if options.rate is not None:
        return None
    argon2 = Argon2Parameters.from_env(os.environ)
    basis = {"argon2": dataclasses.asdict(argon2), "backend": options.backend}
    cache = CapacityCache(options.capacity_cache) if options.capacity_cache else None
    cached = cache.load(basis) if cache is not None else None
    if cached is not None:
        stage(f"capacity: {cached.per_s:g} registrations/s, measured {cached.age_s() / 60:.0f} min ago "
              f"on this machine ({options.capacity_cache})")
        return cached
    stage("measuring this machine's capacity: registrations at rising rates through the gateway")
    capacity = measure_capacity(
        stack.config.gateway_url,
        start_rate=_first_step_rate(stack),
        basis=basis,
        on_step=lambda step: stage(f"  {describe_step(step)}"),
    )
    stage(f"capacity: {capacity.per_s:g} registrations/s")
    if cache is not None:
        cache.save(capacity)
    return capacity


def _rate(options: ExperimentOptions, capacity: Capacity | None) -> float:
    """The requests per second to offer: as given, or the load share of the capacity (counted in
    registrations: the reads come on top, as in any run)."""
    if options.rate is not None:
        return options.rate
    assert capacity is not None
    return round(capacity.per_s * options.load_share / (1 - options.read_share), 1)


def _first_step_rate(stack: Stack) -> float:
    """A rate well under what hashing allows, from registro's own measure of a hash."""
    hash_s = registro_metrics(stack.config).get("sportapp_password_hash_seconds")
    hashes_per_s = (os.cpu_count() or 1) / hash_s if hash_s else 20.0
    return max(1.0, round(0.4 * hashes_per_s, 1))


def _load(
    options: ExperimentOptions,
    rate: float,
    scenario: Scenario,
    config: StackConfig,
    out_dir: Path,
    on_progress: Callable[[LoadProgress], None] | None,
) -> list[RequestRecord]:
    if options.load == "jmeter":
        jtl = run_jmeter(
            options.root / "infra" / "jmeter" / "registration.jmx",
            out_dir / "jmeter",
            "127.0.0.1",
            config.gateway_port,
            rate,
            options.duration_s,
            read_share=options.read_share,
        )
        return read_jtl(jtl, mono_minus_unix=time.monotonic() - time.time())
    return run_load_sync(
        LoadConfig(
            base_url=config.gateway_url,
            rate=rate,
            duration_s=options.duration_s,
            read_share=options.read_share,
            invalid_emails=scenario.invalid_emails,
        ),
        on_progress,
    )


def _settle(config: StackConfig, settle_s: float) -> dict[str, Any]:
    """Give the monitor time to restore redundancy (both instances up and ready; with fail-back,
    the primary active again), so that the report sees recovery; return the monitor's settings
    as it reports them."""
    try:
        status = wait_redundant(config, timeout_s=settle_s)
    except NotRedundant as late:
        status = late.last
    return dict(status.get("settings", {}))


def _seed_crash_faults(records: list[RequestRecord]) -> list[dict[str, Any]]:
    # The seed's fault strikes whichever instance an invalid address reaches; the instant is when
    # the request was sent.
    return [
        {
            "name": "seed-crash",
            "target": record.served_by or "registro-primary",
            "t_mono": record.sent_at,
            "t_unix": record.t_unix + (record.sent_at - record.scheduled_at),
            "detail": "invalid e-mail address sent",
        }
        for record in records
        if record.invalid_email and record.was_sent
    ]


def _work_dir(preferred: Path) -> Path:
    # supervisord's socket lives in the work folder; a deep checkout makes its path too long.
    preferred = preferred.resolve()
    if len(str(preferred / "supervisor.sock")) <= _MAX_SOCKET_PATH:
        preferred.mkdir(parents=True, exist_ok=True)
        return preferred
    return Path(tempfile.mkdtemp(prefix="sportapp-experiment-"))


def _parameters(
    options: ExperimentOptions,
    rate: float,
    scenario: Scenario,
    config: StackConfig,
    monitor: dict[str, Any],
) -> dict[str, Any]:
    # The services inherit this process's environment: what it says of gunicorn and argon2 is
    # what they run with.
    argon2 = Argon2Parameters.from_env(os.environ)
    store = config.write_store_url.split(":", 1)[0]
    # Never the URL itself: it may carry a password.
    return {
        "duration_s": options.duration_s,
        "rate_per_s": rate,
        "rate_given": options.rate is not None,
        "load_share": None if options.rate is not None else options.load_share,
        "read_share": options.read_share,
        "load": options.load,
        "invalid_emails": scenario.invalid_emails,
        "store": store,
        "backend": config.backend,
        "event_transport": config.event_transport,
        "ports": config.ports(),
        "monitor": monitor,
        "registro_gunicorn": worker_settings(config.root, "registro"),
        "argon2": dataclasses.asdict(argon2),
        "expectations": dict(vars(options.expect)),
    }


def _write(
    out_dir: Path,
    report: dict[str, Any],
    failed: list[str],
    records: list[RequestRecord],
    events: list[dict[str, Any]],
    faults: list[dict[str, Any]],
) -> None:
    write_records_csv(records, out_dir / "requests.csv")
    document = {**report, "failed_checks": failed}
    (out_dir / "report.json").write_text(json.dumps(document, indent=2, default=str))
    (out_dir / "monitor-events.jsonl").write_text(
        "".join(json.dumps(event) + "\n" for event in events)
    )
    figures = write_figures(records, events, faults, out_dir)
    write_report_md(report, failed, figures, out_dir / "report.md")

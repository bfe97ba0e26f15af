"""One experiment run, end to end: start a fresh stack, load it, inject the scenario's faults,
verify the stores, and write the report (JSON, Markdown, figures, raw CSV)."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import requests

from sportapp_core.adapters.event_log import read_events
from sportapp_core.adapters.web.settings import settings_from_env
from sportapp_registro.settings import RegistroSettings, gunicorn_settings
from sportapp_stack.backends import new_run_id, with_backend
from sportapp_stack.config import PORT_FIELDS, StackConfig, find_nginx, free_ports
from sportapp_stack.experiment.analysis import Expectations, build_report, hypothesis_holds
from sportapp_stack.experiment.faults import SCENARIOS, FaultInjector, Scenario, ScenarioPlayer
from sportapp_stack.experiment.jtl import read_jtl
from sportapp_stack.experiment.load import LoadConfig, LoadProgress, run_load_sync
from sportapp_stack.experiment.plots import write_figures
from sportapp_stack.experiment.records import RequestRecord, write_records_csv
from sportapp_stack.experiment.report_md import write_report_md
from sportapp_stack.experiment.runner import run_jmeter
from sportapp_stack.experiment.verification import verify_registrations
from sportapp_stack.stack import Stack

# Longest unix-socket path supervisord can bind (sun_path is 108 bytes with its NUL).
_MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class ExperimentOptions:
    """What one run does."""

    scenario: str
    duration_s: float = 60.0
    rate: float = 20.0
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
        # The load comes from one address: the gateway's per-client limit must not be the fault.
        registration_rate=f"{max(200, int(options.rate * 4))}r/s",
        registration_burst=max(400, int(options.rate * 8)),
        backend=options.backend,
        keep_database=options.keep_database,
        **ports,
    )
    config = with_backend(config, new_run_id())
    stack = Stack(config)
    stage(f"starting a fresh stack in {var_dir}")
    stack.start(fresh=True)
    try:
        player = ScenarioPlayer(scenario, FaultInjector(stack), options.duration_s)
        stage(f"{scenario.name}: {scenario.description}")
        player.start()
        records = _load(options, scenario, config, out_dir, on_progress)
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
        parameters=_parameters(options, scenario, config, monitor_settings),
        versions=_versions(),
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


def _load(
    options: ExperimentOptions,
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
            options.rate,
            options.duration_s,
            read_share=options.read_share,
        )
        return read_jtl(jtl, mono_minus_unix=time.monotonic() - time.time())
    return run_load_sync(
        LoadConfig(
            base_url=config.gateway_url,
            rate=options.rate,
            duration_s=options.duration_s,
            read_share=options.read_share,
            invalid_emails=scenario.invalid_emails,
        ),
        on_progress,
    )


def _settle(config: StackConfig, settle_s: float) -> dict[str, Any]:
    """Give the monitor time to fail back (or to give up), so that the report sees recovery;
    return the monitor's settings as it reports them."""
    deadline = time.monotonic() + settle_s
    settings: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            status = requests.get(config.url(config.monitor_port) + "/status", timeout=1).json()
            settings = status.get("settings", settings)
            targets = status["targets"]
            instances = ("registro-primary", "registro-backup")
            if (
                status["active"] == "registro-primary"
                and not status["switching"]
                and all(targets[name]["state"] == "up" for name in instances)
            ):
                break
        except (requests.RequestException, ValueError, KeyError):
            pass
        time.sleep(0.25)
    return settings


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
    options: ExperimentOptions, scenario: Scenario, config: StackConfig, monitor: dict[str, Any]
) -> dict[str, Any]:
    # The services inherit this process's environment: what it says of gunicorn and argon2 is
    # what they run with.
    registro = gunicorn_settings()
    argon2 = settings_from_env(RegistroSettings, os.environ).argon2_parameters()
    store = config.write_store_url.split(":", 1)[0]
    # Never the URL itself: it may carry a password.
    return {
        "duration_s": options.duration_s,
        "rate_per_s": options.rate,
        "read_share": options.read_share,
        "load": options.load,
        "invalid_emails": scenario.invalid_emails,
        "store": store,
        "backend": config.backend,
        "event_transport": config.event_transport,
        "ports": config.ports(),
        "monitor": monitor,
        "registro_gunicorn": {
            name: registro[name] for name in ("worker_class", "workers", "threads")
        },
        "argon2": dataclasses.asdict(argon2),
        "expectations": dict(vars(options.expect)),
    }


def _versions() -> dict[str, Any]:
    packages = ["sportapp-core", "flask", "flask-restful", "marshmallow", "sqlalchemy", "gunicorn",
                "argon2-cffi", "aiohttp", "supervisor"]
    found: dict[str, Any] = {"python": platform.python_version(), "nginx": _nginx_version()}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    found["cpus"] = os.cpu_count()
    return found


def _nginx_version() -> str | None:
    try:
        result = subprocess.run([find_nginx(), "-v"], capture_output=True, text=True, timeout=5, check=False)
    except OSError:
        return None
    return result.stderr.strip().split("/")[-1] or None


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

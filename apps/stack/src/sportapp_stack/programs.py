"""The processes of the stack, as supervisord runs them: one :class:`Program` entry per part."""

from __future__ import annotations

import runpy
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sportapp_stack.config import HOST, StackConfig


@dataclass(frozen=True, slots=True)
class Program:
    """One part of the stack: its command, environment, and the URL that says it is healthy."""

    name: str
    command: tuple[str, ...]
    # Empty for a part without HTTP (the relay): running is healthy.
    health_url: str
    environment: Mapping[str, str] = field(default_factory=dict)
    # supervisord restarts a part that dies unexpectedly, except registro's instances: restarting
    # those is the monitor's job (with back-off), and what the experiment measures.
    autorestart: bool = True
    # Started by `up` only once every other part is healthy (the monitor: what it watches must
    # have started, so that an instance it cannot reach has died rather than not begun).
    after_the_others: bool = False
    stop_signal: str = "TERM"
    # Seconds between the stop signal and SIGKILL to the whole group.
    stop_wait_s: int = 15
    # Seconds a process must live to count as started; supervisord retries a start that dies
    # sooner by itself (startretries), even without autorestart.
    start_secs: int = 1
    # Files the part writes besides its output (which supervisord keeps in <var>/logs/<name>.log).
    extra_logs: tuple[Path, ...] = ()
    # For a part without HTTP: a file it touches after every round of work that succeeded; it is
    # healthy while the file is younger than heartbeat_stale_after_s (else, running is healthy).
    heartbeat_file: Path | None = None
    heartbeat_stale_after_s: float = 10.0


def programs(config: StackConfig) -> list[Program]:
    """Every part, in start order (``down`` stops them in reverse). Add a part with one entry."""
    return [
        Program(
            name="db",
            command=_gunicorn(config, "db"),
            health_url=config.url(config.db_port) + "/health",
            environment={
                **_service_env(config, "db", config.db_port),
                "SPORTAPP_STORE_URL": config.write_store_url,
            },
        ),
        *([_relay(config)] if config.event_transport == "redis" else []),
        Program(
            name="consulta",
            command=_gunicorn(config, "consulta"),
            health_url=config.url(config.consulta_port) + "/health",
            environment={
                **_service_env(config, "consulta", config.consulta_port),
                "SPORTAPP_READ_STORE_URL": config.consulta_store_url,
                "SPORTAPP_DB_SERVICE_URL": config.db_service_url,
                "SPORTAPP_PROJECTOR": "true",
                "SPORTAPP_EVENT_TRANSPORT": config.event_transport,
                # Its workers' metrics files (emptied as it starts), beside the stack's other state.
                "PROMETHEUS_MULTIPROC_DIR": str(config.var_dir / "metrics-consulta"),
                **(_stream_env(config) if config.event_transport == "redis" else {}),
            },
        ),
        _registro(config, "registro-primary", config.registro_primary_port),
        _registro(config, "registro-backup", config.registro_backup_port),
        Program(
            name="gateway",
            command=(
                config.nginx_bin,
                "-p", str(config.nginx_dir),
                "-c", str(config.nginx_config),
                "-e", str(config.nginx_error_log),
            ),
            health_url=config.gateway_url + "/openapi.json",
            extra_logs=(config.nginx_error_log, config.nginx_dir / "access.log"),
        ),
        *([_monitor(config)] if config.monitor else []),
    ]


def _relay(config: StackConfig) -> Program:
    # Publishes db's outbox to the stream consulta reads; no HTTP: it is healthy while it touches
    # its heartbeat file, which it does after every round that worked (one a second at least, the
    # outbox's wait), and supervisord restarts it if it dies (it resumes from the stream's newest
    # entry). A relay that runs but cannot read the store or write the stream stops touching it.
    heartbeat = config.var_dir / "relay.heartbeat"
    return Program(
        name="relay",
        command=(sys.executable, "-m", "sportapp_db.relay"),
        health_url="",
        environment={
            "SPORTAPP_INSTANCE": "relay",
            "SPORTAPP_STORE_URL": config.write_store_url,
            "SPORTAPP_HEARTBEAT_FILE": str(heartbeat),
            **_stream_env(config),
        },
        stop_wait_s=5,
        heartbeat_file=heartbeat,
    )


def _stream_env(config: StackConfig) -> dict[str, str]:
    return {"SPORTAPP_REDIS_URL": config.redis_url, "SPORTAPP_EVENT_STREAM": config.event_stream}


def _monitor(config: StackConfig) -> Program:
    # Started last, once the rest is healthy: it adopts the route that `up` rendered and probes
    # it through the gateway, and every instance it watches has been up.
    return Program(
        name="monitor",
        command=(sys.executable, "-m", "sportapp_monitor"),
        health_url=config.url(config.monitor_port) + "/health",
        environment={
            "SPORTAPP_INSTANCE": "monitor",
            "SPORTAPP_BIND": f"{HOST}:{config.monitor_port}",
            "SPORTAPP_PRIMARY_ADDRESS": f"{HOST}:{config.registro_primary_port}",
            "SPORTAPP_BACKUP_ADDRESS": f"{HOST}:{config.registro_backup_port}",
            "SPORTAPP_DB_SERVICE_URL": config.db_service_url,
            "SPORTAPP_GATEWAY_URL": config.gateway_url,
            "SPORTAPP_MASKING": _flag(config.masking),
            "SPORTAPP_UPSTREAM_TEMPLATE": str(config.upstream_template),
            "SPORTAPP_UPSTREAM_FILE": str(config.upstream_file),
            "SPORTAPP_ADMISSION_TEMPLATE": str(config.admission_template),
            "SPORTAPP_ADMISSION_FILE": str(config.admission_file),
            "SPORTAPP_NGINX_BIN": config.nginx_bin,
            "SPORTAPP_NGINX_PREFIX": str(config.nginx_dir),
            "SPORTAPP_NGINX_CONFIG": str(config.nginx_config),
            "SPORTAPP_SUPERVISOR_SOCKET": str(config.socket),
            "SPORTAPP_EVENT_LOG": str(config.monitor_event_log),
        },
        extra_logs=(config.monitor_event_log,),
        after_the_others=True,
    )


def _registro(config: StackConfig, instance: str, port: int) -> Program:
    # Both instances run the same code; only the name, the port and the metrics folder differ.
    return Program(
        name=instance,
        command=_gunicorn(config, "registro"),
        health_url=config.url(port) + "/health",
        environment={
            **_service_env(config, instance, port),
            "SPORTAPP_DB_SERVICE_URL": config.db_service_url,
            "SPORTAPP_FAULT_INJECTION": _flag(config.fault_injection),
            "SPORTAPP_FAULT_DIR": str(config.faults_dir),
            "SPORTAPP_SEED_CRASH": _flag(config.seed_crash),
        },
        autorestart=False,
        # A hung instance ignores SIGTERM: the monitor's restart should not wait long for it.
        stop_wait_s=3,
        # Started at once: an instance that dies right after a start is the monitor's to restart
        # (with its back-off), not supervisord's.
        start_secs=0,
    )


def _gunicorn(config: StackConfig, app: str) -> tuple[str, ...]:
    # The interpreter running `sportapp` is the venv's, so gunicorn and the apps import from it.
    return (sys.executable, "-m", "gunicorn", "-c", str(gunicorn_conf(config.root, app)))


def gunicorn_conf(root: Path, app: str) -> Path:
    """The gunicorn configuration file the stack starts ``app`` with."""
    return root / "apps" / app / "gunicorn.conf.py"


def worker_settings(root: Path, app: str) -> dict[str, Any]:
    """``app``'s gunicorn worker model (class, processes, threads), read from its configuration
    file as gunicorn reads it, in this process's environment, which the stack's programs inherit."""
    settings = runpy.run_path(str(gunicorn_conf(root, app)))
    return {name: settings[name] for name in ("worker_class", "workers", "threads")}


def _service_env(config: StackConfig, instance: str, port: int) -> dict[str, str]:
    return {"SPORTAPP_INSTANCE": instance, "SPORTAPP_BIND": f"{HOST}:{port}"}


def _flag(on: bool) -> str:
    return "true" if on else "false"

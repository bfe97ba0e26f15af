"""gunicorn settings shared by the apps' ``gunicorn.conf.py`` files, from the environment."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sportapp_core.adapters.settings import SettingsError

# gthread whose threads stay a moment with their kept-alive connection (see that module).
LINGERING_GTHREAD = "sportapp_core.adapters.web.gunicorn_worker.LingeringThreadWorker"
# sync that closes a bodiless request's connection without waiting for the peer (see that module).
PROMPTLY_CLOSING_SYNC = "sportapp_core.adapters.web.gunicorn_worker.PromptlyClosingSyncWorker"
LINGER_VARIABLE = "SPORTAPP_KEEPALIVE_LINGER_MS"
# Where prometheus_client's multiprocess mode keeps the workers' samples (SharedMetrics).
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# prometheus_client's files in that folder: the metric's type (a gauge's with its mode), its pid.
_SAMPLES_FILE = re.compile(r"^(counter|histogram|summary|gauge_[a-z]+)_\d+\.db$")
# The monitor pings the active instance and db every 100 ms: a linger a little past that keeps
# their probe connections with one thread each, with room for a late ping.
DEFAULT_LINGER_MS = 250


def service_settings(
    wsgi_app: str,
    *,
    default_port: int,
    worker_class: str = LINGERING_GTHREAD,
    default_workers: int = 1,
    default_threads: int = 8,
    graceful_timeout_s: int = 10,
) -> dict[str, Any]:
    """Every gunicorn setting of a SportApp service, by gunicorn's names.

    ``SPORTAPP_BIND``, ``SPORTAPP_WORKERS`` and ``SPORTAPP_THREADS`` override the defaults (and
    ``SPORTAPP_KEEPALIVE_LINGER_MS`` tunes the threaded worker's linger, 0 for plain gthread).
    registro and db run one worker process: what it must count or wake (admission, the feed's
    waiting readers) it sees whole, and its metrics live in its memory. consulta runs one per
    core, whose metrics are added up from files (:class:`SharedMetrics`). The app is loaded in each
    worker after the fork (no ``preload_app``), so engines and sockets are made there.
    """
    if worker_class == LINGERING_GTHREAD:
        keepalive_linger_s(os.environ)  # a bad value stops gunicorn here, before any worker starts
    return {
        "wsgi_app": wsgi_app,
        "bind": os.environ.get("SPORTAPP_BIND", f"127.0.0.1:{default_port}"),
        "workers": int(os.environ.get("SPORTAPP_WORKERS", default_workers)),
        "worker_class": worker_class,
        "threads": int(os.environ.get("SPORTAPP_THREADS", default_threads)),
        # Longer than NGINX's upstream keepalive_timeout (60 s): NGINX closes idle connections.
        "keepalive": 75,
        "timeout": 30,
        "graceful_timeout": graceful_timeout_s,
        # gunicorn's largest: whatever NGINX lets through (4 KiB lines) must never meet gunicorn's
        # own limits, which answer in HTML.
        "limit_request_line": 8190,
        "limit_request_field_size": 8190,
        "errorlog": "-",
        "loglevel": "info",
        "child_exit": mark_worker_dead,
        # gunicorn >= 25.1 opens a control socket at one per-user path by default: with db,
        # consulta and both registros on one machine, each start would take it over from the others.
        "control_socket_disable": True,
    }


def keepalive_linger_s(environ: Mapping[str, str]) -> float:
    """How long a thread waits on its connection for the next request; 0 turns lingering off."""
    raw = environ.get(LINGER_VARIABLE, "").strip()
    try:
        linger_ms = int(raw) if raw else DEFAULT_LINGER_MS
    except ValueError:
        raise SettingsError(f"{LINGER_VARIABLE}={raw!r} is not a whole number of milliseconds") from None
    if linger_ms < 0:
        raise SettingsError(f"{LINGER_VARIABLE} must not be negative, got {linger_ms}")
    return linger_ms / 1000


def mark_worker_dead(_server: Any, worker: Any) -> None:
    """gunicorn ``child_exit`` hook: drop a dead worker's live gauges from the shared metrics."""
    if os.environ.get(MULTIPROCESS_VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


class SharedMetrics:
    """prometheus_client's multiprocess mode for a service with several worker processes, set up by
    gunicorn's master: each worker writes its samples to memory-mapped files of its own in one
    folder, and ``/metrics``, from whichever worker answers, adds them all up.

    The folder is ``PROMETHEUS_MULTIPROC_DIR`` when set (prometheus_client's old files in it are
    removed at start, as it requires: a killed instance's live gauges would linger), else a
    temporary folder made at start and removed at exit. Call :meth:`start` from gunicorn's
    ``on_starting``, before anything in the master imports prometheus_client (which picks its
    storage at import), and :meth:`end` from ``on_exit``; use :data:`shared_metrics`, which a
    reload (it runs the configuration file again) keeps.
    """

    def __init__(self) -> None:
        self._made: Path | None = None

    def start(self) -> None:
        """Make or empty the folder, and name it in the environment the workers inherit."""
        given = os.environ.get(MULTIPROCESS_VARIABLE)
        if given:
            Path(given).mkdir(parents=True, exist_ok=True)
            for leftover in Path(given).iterdir():
                if _SAMPLES_FILE.match(leftover.name):
                    leftover.unlink()
            return
        self._made = Path(tempfile.mkdtemp(prefix="sportapp-metrics-"))
        os.environ[MULTIPROCESS_VARIABLE] = str(self._made)

    def end(self) -> None:
        """Remove the folder, and its name from the environment, if :meth:`start` made it."""
        if self._made is not None:
            shutil.rmtree(self._made, ignore_errors=True)
            os.environ.pop(MULTIPROCESS_VARIABLE, None)
            self._made = None


shared_metrics = SharedMetrics()

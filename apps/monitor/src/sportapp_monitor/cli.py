"""``sportapp-monitor``: run the monitor until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from types import FrameType

from werkzeug.serving import make_server

from sportapp_core.adapters.json_logs import configure_logging
from sportapp_core.adapters.settings import settings_from_env
from sportapp_core.health import FailoverPolicy
from sportapp_monitor.admission import GatewayAdmission
from sportapp_monitor.metrics import MonitorMetrics
from sportapp_monitor.probes import EchoProbe
from sportapp_monitor.settings import MonitorSettings
from sportapp_monitor.status import create_status_app
from sportapp_monitor.upstream import UpstreamSwitch
from sportapp_monitor.watch import Monitor
from sportapp_ops.event_log import EventLog
from sportapp_ops.nginx import Instance, Nginx
from sportapp_ops.supervisor import Supervisor

logger = logging.getLogger(__name__)


def build_monitor(settings: MonitorSettings) -> tuple[Monitor, MonitorMetrics]:
    """The composition root: a monitor wired to NGINX, supervisord and the targets."""
    timeout_s = settings.timeout_ms / 1000
    instances = {
        settings.primary: Instance(settings.primary, settings.primary_address),
        settings.backup: Instance(settings.backup, settings.backup_address),
    }
    events = EventLog(Path(settings.event_log))
    metrics = MonitorMetrics()
    nginx = Nginx(
        settings.nginx_bin, Path(settings.nginx_prefix).resolve(), Path(settings.nginx_config).resolve()
    )
    switch = UpstreamSwitch(
        nginx=nginx,
        template=Path(settings.upstream_template).resolve(),
        upstream_file=Path(settings.upstream_file).resolve(),
        gateway_url=settings.gateway_url,
        instances=instances,
        masking=settings.masking,
        events=events,
        confirm_timeout_s=settings.confirm_timeout_s,
    )
    restart = Supervisor(settings.supervisor_socket).restart if settings.supervisor_socket else None
    admission = (
        GatewayAdmission(
            nginx=nginx,
            template=Path(settings.admission_template).resolve(),
            admission_file=Path(settings.admission_file).resolve(),
            events=events,
        )
        if settings.admission_file
        else None
    )
    monitor = Monitor(
        policy=FailoverPolicy(settings.primary, settings.backup, fail_back=settings.fail_back),
        probes={
            name: EchoProbe(name, f"http://{instance.address}", timeout_s)
            for name, instance in instances.items()
        },
        dependency=EchoProbe("db", settings.db_service_url, timeout_s),
        switch=switch,
        admission=admission,
        admission_lift_max_s=settings.admission_lift_max_s,
        restart=restart,
        events=events,
        metrics=metrics,
        interval_s=settings.interval_ms / 1000,
        watch_interval_s=settings.watch_interval_ms / 1000,
        start_grace_s=settings.start_grace_s,
        rise=settings.rise,
        fall=settings.fall,
        restart_backoff_s=settings.restart_backoff_s,
        restart_backoff_max_s=settings.restart_backoff_max_s,
        restart_grace_s=settings.restart_grace_s,
        stable_after_s=settings.stable_after_s,
        readiness_interval_s=settings.readiness_interval_ms / 1000,
    )
    return monitor, metrics


def main() -> None:
    """Run the monitor and its status server until told to stop."""
    settings = settings_from_env(MonitorSettings, os.environ)
    configure_logging(settings.instance, settings.log_level)
    monitor, metrics = build_monitor(settings)
    host, _, port = settings.bind.rpartition(":")
    shown = {
        name: getattr(settings, name)
        for name in ("interval_ms", "watch_interval_ms", "readiness_interval_ms", "timeout_ms",
                     "start_grace_s", "rise", "fall", "fail_back",
                     "masking", "restart_backoff_s", "restart_backoff_max_s", "restart_grace_s",
                     "stable_after_s")
    }
    app = create_status_app(monitor, metrics, settings.instance, shown)
    server = make_server(host, int(port), app, threaded=True)
    threading.Thread(target=server.serve_forever, name="status", daemon=True).start()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %s: stopping", signum)
        monitor.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        monitor.run()
    finally:
        server.shutdown()

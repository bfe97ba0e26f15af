"""The monitor's own small HTTP face: ``/status``, ``/ping``, ``/health``, ``/metrics``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sportapp_core.adapters.web.observability import HttpMetrics, install_observability
from sportapp_core.adapters.web.probes import install_probes
from sportapp_core.adapters.web.problems import install_problem_handlers
from sportapp_monitor.metrics import MonitorMetrics
from sportapp_monitor.watch import Monitor


def create_status_app(
    monitor: Monitor,
    metrics: MonitorMetrics,
    instance: str = "monitor",
    settings: Mapping[str, Any] | None = None,
) -> Flask:
    """The status app of a running ``monitor``; ``settings`` are shown as they were given."""
    app = Flask(__name__)
    install_problem_handlers(app)

    def loop_alive() -> dict[str, float]:
        silent_for = time.monotonic() - monitor.last_loop_at
        if silent_for > 2.0:
            raise RuntimeError(f"monitor loop silent for {silent_for:.1f} s")
        return {"loop_silent_ms": round(silent_for * 1000, 1)}

    http_metrics = HttpMetrics()
    install_observability(app, instance, http_metrics)
    install_probes(app, instance, {"loop": loop_alive})
    # The monitor's own metrics replace the generic endpoint (one process, no multiprocess mode).
    app.view_functions["metrics"] = lambda: Response(
        generate_latest(metrics.registry) + generate_latest(http_metrics.registry),
        mimetype=CONTENT_TYPE_LATEST,
    )

    @app.get("/status")
    def status() -> Response:
        return jsonify({**monitor.snapshot(), "settings": dict(settings or {})})

    return app

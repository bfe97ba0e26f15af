"""SportApp's registro service: the command side, registering users."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from sportapp_core.adapters.json_logs import configure_logging
from sportapp_core.adapters.settings import settings_from_env
from sportapp_core.adapters.web.admission import AdmissionGate
from sportapp_core.adapters.web.observability import HttpMetrics, install_observability
from sportapp_core.adapters.web.probes import HealthCheck, install_probes
from sportapp_core.adapters.web.problems import ProblemApi, install_problem_handlers
from sportapp_registro.bootstrap import RegistroComponents, bootstrap
from sportapp_registro.faults import FAULT_PATH
from sportapp_registro.metrics import RegistrationMetrics
from sportapp_registro.resources import REGISTER_PATH, FaultMode, Register
from sportapp_registro.settings import RegistroSettings


def create_app(
    config: Mapping[str, Any] | None = None,
    services: RegistroComponents | None = None,
    health_checks: Mapping[str, HealthCheck] | None = None,
) -> Flask:
    """Build a registro instance. ``config`` overrides ``SPORTAPP_*`` settings (tests use it)."""
    settings = settings_from_env(RegistroSettings, os.environ, config)
    configure_logging(settings.instance, settings.log_level)
    if services is None:
        services, db = bootstrap(settings)
        health_checks = {"db": db.ping}

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    install_problem_handlers(app)
    app.wsgi_app = AdmissionGate(  # type: ignore[method-assign]
        app.wsgi_app, services.admission, method="POST", path=REGISTER_PATH
    )
    http_metrics = HttpMetrics()
    RegistrationMetrics(services.admission).register(http_metrics.registry)
    install_observability(app, settings.instance, http_metrics)
    install_probes(app, settings.instance, health_checks or {})
    if services.faults is not None:
        app.wsgi_app = services.faults.wrap(app.wsgi_app)  # type: ignore[method-assign,assignment]

    api = ProblemApi(app)
    kwargs = {"resource_class_kwargs": {"services": services}}
    api.add_resource(Register, REGISTER_PATH, **kwargs)
    if services.faults is not None:
        api.add_resource(FaultMode, FAULT_PATH, **kwargs)
    return app


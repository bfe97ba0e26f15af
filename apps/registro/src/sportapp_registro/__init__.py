"""SportApp's registro service: the command side, registering users."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, request

from sportapp_core.adapters.web.observability import (
    HttpMetrics,
    configure_logging,
    install_observability,
)
from sportapp_core.adapters.web.probes import HealthCheck, install_probes
from sportapp_core.adapters.web.problems import Problem, ProblemApi, install_problem_handlers
from sportapp_core.adapters.web.settings import settings_from_env
from sportapp_registro.bootstrap import Services, bootstrap
from sportapp_registro.faults import FaultSwitch
from sportapp_registro.resources import FaultMode, Register
from sportapp_registro.settings import RegistroSettings


def create_app(
    config: Mapping[str, Any] | None = None,
    services: Services | None = None,
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
    install_observability(app, settings.instance, HttpMetrics())
    if services.faults is not None:
        _install_fault_switch(app, services.faults)
    install_probes(app, settings.instance, health_checks or {})

    api = ProblemApi(app)
    kwargs = {"resource_class_kwargs": {"services": services}}
    api.add_resource(Register, "/user-commands/users/register", **kwargs)
    if services.faults is not None:
        api.add_resource(FaultMode, "/faults/error-mode", **kwargs)
    return app


def _install_fault_switch(app: Flask, switch: FaultSwitch) -> None:
    @app.before_request
    def _fail_while_switched_on() -> None:
        if switch.on and request.path != "/faults/error-mode":
            raise Problem(
                500, "Injected fault: this instance fails every request.", code="injected-fault"
            )

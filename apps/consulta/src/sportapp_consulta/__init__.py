"""SportApp's consulta service: the query side, answering from its own read model."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from sportapp_consulta.bootstrap import ConsultaComponents, bootstrap
from sportapp_consulta.projector import ProjectorThread
from sportapp_consulta.resources import EmailCheck, User, UserList
from sportapp_consulta.settings import ConsultaSettings
from sportapp_core.adapters.json_logs import configure_logging
from sportapp_core.adapters.settings import settings_from_env
from sportapp_core.adapters.web.observability import HttpMetrics, install_observability
from sportapp_core.adapters.web.probes import install_probes
from sportapp_core.adapters.web.problems import ProblemApi, install_problem_handlers

PROJECTOR_EXTENSION = "sportapp_projector"


def create_app(config: Mapping[str, Any] | None = None, services: ConsultaComponents | None = None) -> Flask:
    """Build a consulta instance. ``config`` overrides ``SPORTAPP_*`` settings (tests use it).

    With ``projector`` on, a daemon thread of this process waits for the instance's projector seat
    and projects once it holds it (under gunicorn, one worker of the instance holds it: one
    projector, one stream of db's feed per consulta instance); ``app.extensions["sportapp_projector"]
    .stop()`` stops it.
    """
    settings = settings_from_env(ConsultaSettings, os.environ, config)
    configure_logging(settings.instance, settings.log_level)
    services = services or bootstrap(settings)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    install_problem_handlers(app)
    install_observability(app, settings.instance, HttpMetrics(services.metrics_registry))
    install_probes(
        app,
        settings.instance,
        {"read_store": services.check_read_store, "projection": services.check_projection},
    )

    api = ProblemApi(app)
    kwargs = {"resource_class_kwargs": {"services": services}}
    api.add_resource(UserList, "/user-queries/users", **kwargs)
    api.add_resource(EmailCheck, "/user-queries/users/check", **kwargs)
    api.add_resource(User, "/user-queries/users/<int:user_id>", **kwargs)

    if services.projector is not None and services.seat is not None:
        projector = ProjectorThread(services.projector, services.seat)
        app.extensions[PROJECTOR_EXTENSION] = projector
        projector.start()
    return app

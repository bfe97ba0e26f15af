"""SportApp's db service: owns the write store and serves it to registro and consulta."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from sportapp_core.adapters.json_logs import configure_logging
from sportapp_core.adapters.settings import settings_from_env
from sportapp_core.adapters.web.observability import HttpMetrics, install_observability
from sportapp_core.adapters.web.probes import install_probes
from sportapp_core.adapters.web.problems import ProblemApi, install_problem_handlers
from sportapp_core.db_schemas import EVENT_STREAM_PATH, EVENTS_PATH, USERS_PATH
from sportapp_db.bootstrap import DbComponents, bootstrap
from sportapp_db.resources import Events, EventStream, User, UserList
from sportapp_db.settings import DbSettings


def create_app(config: Mapping[str, Any] | None = None, services: DbComponents | None = None) -> Flask:
    """Build the db service. ``config`` overrides ``SPORTAPP_*`` settings (tests use it)."""
    settings = settings_from_env(DbSettings, os.environ, config)
    configure_logging(settings.instance, settings.log_level)
    services = services or bootstrap(settings)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    # For the gunicorn hook that ends the event streams when the worker is told to stop.
    app.extensions["sportapp_db.services"] = services
    install_problem_handlers(app)
    install_observability(app, settings.instance, HttpMetrics())
    install_probes(app, settings.instance, {"store": services.check_store})

    api = ProblemApi(app)
    kwargs = {"resource_class_kwargs": {"services": services}}
    api.add_resource(UserList, USERS_PATH, **kwargs)
    api.add_resource(User, USERS_PATH + "/<int:user_id>", **kwargs)
    api.add_resource(Events, EVENTS_PATH, **kwargs)
    api.add_resource(EventStream, EVENT_STREAM_PATH, **kwargs)
    return app

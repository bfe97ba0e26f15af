"""The query benchmark's baseline: the least a WSGI app behind gunicorn can do for a request.

A JSON body the size of one user, no framework, no store: what NGINX -> gunicorn costs on this
machine, so that consulta's figure reads as a share of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

BODY = b'{"id": 1, "correo": "hello@sportapp-bench.dev", "created_at": "2026-01-01T00:00:00+00:00"}\n'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer every request with the same small JSON body."""
    start_response("200 OK", HEADERS)
    return [BODY]


def create_flask_app() -> Any:
    """The same answer from Flask: what the framework itself costs, with nothing of SportApp."""
    from flask import Flask

    flask_app = Flask("hello")

    @flask_app.get("/hello")
    def hello() -> tuple[bytes, int, list[tuple[str, str]]]:
        return BODY, 200, [("Content-Type", "application/json")]

    return flask_app

"""Ping/echo and readiness, the same on every service."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

from flask import Flask, Response, jsonify

from sportapp_core.adapters.web.problems import PROBLEM_BASE, PROBLEM_MIMETYPE, Problem, problem_response

NONCE_SHAPE = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
PING_PATH = "/ping"

# A check raises (any exception) when its dependency does not answer; it may return details.
HealthCheck = Callable[[], Mapping[str, Any] | None]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class PingEcho:
    """WSGI middleware: ``GET /ping?nonce=X`` echoes X back, before the framework sees the request.

    The echo comes from the same worker and thread pool that serve the API, so it proves what the
    monitor's ping/echo asks (the process reads requests and answers them), but it skips Flask's
    request handling, request ids, metrics and logs: the monitor pings every instance ten times a
    second, and an echo must cost the instance as little as an echo can.
    """

    def __init__(self, app: WsgiApp, instance: str) -> None:
        self._app = app
        self._instance = instance

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PING_PATH or environ.get("REQUEST_METHOD") != "GET":
            return self._app(environ, start_response)
        nonce = parse_qs(environ.get("QUERY_STRING", "")).get("nonce", [""])[0]
        if nonce and not NONCE_SHAPE.match(nonce):
            return _json(start_response, "400 Bad Request", PROBLEM_MIMETYPE, {
                "type": PROBLEM_BASE + "bad-nonce",
                "title": "Bad Request",
                "status": 400,
                "detail": "The nonce must be 1-128 URL-safe characters.",
            })
        return _json(
            start_response, "200 OK", "application/json",
            {"nonce": nonce or None, "instance": self._instance},
        )


def _json(start_response: StartResponse, status: str, mimetype: str, body: dict[str, Any]) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(status, [
        ("Content-Type", mimetype),
        ("Content-Length", str(len(payload))),
        ("Cache-Control", "no-store"),
    ])
    return [payload]


def install_probes(app: Flask, instance: str, checks: Mapping[str, HealthCheck]) -> None:
    """``GET /ping?nonce=X`` echoes X back; ``GET /health`` is 200 only if every check passes.

    ``/ping`` does no I/O at all (:class:`PingEcho`): it proves the process accepts and serves
    requests, which is what the monitor's ping/echo asks. ``/health`` is the deeper readiness
    question.
    """

    def health() -> Response:
        results: dict[str, Any] = {}
        healthy = True
        for name, check in checks.items():
            started = time.perf_counter()
            try:
                details = check()
                results[name] = {"status": "up", **(dict(details) if details else {})}
            except Exception as error:  # a failing check is data here, not a crash
                healthy = False
                results[name] = {"status": "down", "error": type(error).__name__}
            results[name]["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
        if healthy:
            return jsonify(status="ready", instance=instance, checks=results)
        return problem_response(
            Problem(
                503,
                "A dependency of this service does not answer.",
                code="not-ready",
                headers={"Retry-After": "1"},
                extra={"status_text": "unavailable", "instance": instance, "checks": results},
            )
        )

    app.wsgi_app = PingEcho(app.wsgi_app, instance)  # type: ignore[method-assign]
    app.add_url_rule("/health", "health", health, methods=["GET"])

"""Ping/echo and readiness, the same on every service."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, jsonify, request

from sportapp_core.adapters.web.problems import Problem, problem_response

NONCE_SHAPE = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")

# A check raises (any exception) when its dependency does not answer; it may return details.
HealthCheck = Callable[[], Mapping[str, Any] | None]


def install_probes(app: Flask, instance: str, checks: Mapping[str, HealthCheck]) -> None:
    """``GET /ping?nonce=X`` echoes X back; ``GET /health`` is 200 only if every check passes.

    ``/ping`` does no I/O at all: it proves the process accepts and serves requests, which is
    what the monitor's ping/echo asks. ``/health`` is the deeper readiness question.
    """

    def ping() -> Response:
        nonce = request.args.get("nonce", "")
        if nonce and not NONCE_SHAPE.match(nonce):
            raise Problem(400, "The nonce must be 1-128 URL-safe characters.", code="bad-nonce")
        return jsonify(nonce=nonce or None, instance=instance)

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

    app.add_url_rule("/ping", "ping", ping, methods=["GET"])
    app.add_url_rule("/health", "health", health, methods=["GET"])

"""Request ids, the serving instance's name, JSON logs and Prometheus metrics for every service."""

from __future__ import annotations

import atexit
import copy
import logging
import os
import queue
import re
import sys
import time
import uuid
from collections.abc import Collection
from logging.handlers import QueueHandler, QueueListener

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from pythonjsonlogger.json import JsonFormatter

from sportapp_core.adapters.request_context import current_request_id

REQUEST_ID_HEADER = "X-Request-Id"
SERVED_BY_HEADER = "X-Served-By"
PROBE_ENDPOINTS = ("/ping", "/health", "/metrics")
_REQUEST_ID_SHAPE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

access_logger = logging.getLogger("sportapp.access")


class _RequestIdFilter(logging.Filter):
    """Stamps every record with the request id of the request being served, if any."""

    def __init__(self, instance: str) -> None:
        super().__init__()
        self._instance = instance

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        record.instance = self._instance
        return True


class _HandOffHandler(QueueHandler):
    """Puts records on a queue as they are, for a background thread to format and write.

    The queue is in-process, so records need not be pickled: the message is merged with its
    arguments here (they may change after the call), and the exception stays whole for the JSON
    formatter to render.
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = copy.copy(record)
        record.msg, record.args = record.getMessage(), None
        return record


_listener: QueueListener | None = None


def configure_logging(instance: str, level: str = "INFO") -> None:
    """JSON lines on stdout, each with the instance name and the current request id.

    A request thread only stamps a record and queues it; one background thread per process
    formats and writes. Under load, threads would otherwise queue for the handler's lock while
    one of them writes to a pipe that the process manager drains at its own pace. What is still
    queued when the process is killed with SIGKILL is lost; on a normal exit it is written.
    """
    global _listener
    output = logging.StreamHandler(sys.stdout)
    output.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    handler = _HandOffHandler(records)
    handler.addFilter(_RequestIdFilter(instance))  # in the request's thread: it reads its context
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "sportapp_json", False):
            root.removeHandler(existing)
    if _listener is not None:
        _listener.stop()  # writes what the previous handler queued, then ends its thread
    _listener = QueueListener(records, output)
    _listener.start()
    handler.sportapp_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())


@atexit.register
def _flush_logs() -> None:
    if _listener is not None:
        _listener.stop()


class HttpMetrics:
    """Request counts and latencies, per app, in a registry of the app's own.

    Under gunicorn with ``PROMETHEUS_MULTIPROC_DIR`` set, every worker writes its samples to that
    folder and ``/metrics`` adds them up, so a scrape sees the whole instance, not one worker.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "sportapp_http_requests_total",
            "HTTP requests served, by endpoint and status.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sportapp_http_request_duration_seconds",
            "Time to serve an HTTP request, by endpoint.",
            ["endpoint", "method"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )

    def exposition(self) -> Response:
        """The metrics in Prometheus' text format."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            payload = generate_latest(registry)
        else:
            payload = generate_latest(self.registry)
        return Response(payload, mimetype=CONTENT_TYPE_LATEST)


def install_observability(
    app: Flask, instance: str, metrics: HttpMetrics, *, quiet_endpoints: Collection[str] = ()
) -> None:
    """Request ids in and out, ``X-Served-By`` on every response, an access log line, metrics.

    The probes and ``quiet_endpoints`` (machine traffic repeated many times a second, such as the
    event feed's long-polls) log their successful answers at DEBUG: at INFO they would drown the
    requests a person wants to find, and cost the service a log line each.
    """
    quiet = {*PROBE_ENDPOINTS, *quiet_endpoints}

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _REQUEST_ID_SHAPE.match(incoming) else uuid.uuid4().hex
        g.request_token = current_request_id.set(g.request_id)
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers[SERVED_BY_HEADER] = instance
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("started")
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        if started is not None:
            elapsed = time.perf_counter() - started
            metrics.latency.labels(endpoint, request.method).observe(elapsed)
            metrics.requests.labels(endpoint, request.method, str(response.status_code)).inc()
            level = logging.DEBUG if endpoint in quiet and response.status_code < 400 else logging.INFO
            if access_logger.isEnabledFor(level):
                access_logger.log(
                    level,
                    "request served",
                    extra={
                        "method": request.method,
                        "path": request.path,
                        "status": response.status_code,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
        return response

    @app.teardown_request
    def _forget(_error: BaseException | None) -> None:
        token = g.pop("request_token", None)
        if token is not None:
            current_request_id.reset(token)

    app.add_url_rule("/metrics", "metrics", metrics.exposition, methods=["GET"])

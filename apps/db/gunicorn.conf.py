"""gunicorn settings for the db service: ``gunicorn -c apps/db/gunicorn.conf.py``."""

import signal
from typing import Any

from gunicorn.workers import gthread

from sportapp_core.adapters.web.gunicorn import service_settings

# One threaded worker (gthread whose threads linger on their kept-alive connections,
# sportapp_core.adapters.web.gunicorn_worker): SQLite takes one writer at a time anyway, and in
# one process a committed registration wakes the event stream's followers directly
# (sportapp_core.services.feed), instead of every follower looking at the outbox 50 times a
# second. Threads: one per event stream (one per consulta instance), the registrations in flight,
# and the probes.
#
# A short stop: while db stops, no registration can be recorded, and registro holds them for db
# only so long (SPORTAPP_DB_RESEND_UNTIL_MS), counted against the gateway's bound on registrations
# in flight. Every write is one short transaction, so 1 s of graceful timeout (gunicorn's least
# above none) lets the ones in flight finish; consulta's event stream, which would last until its
# lifetime, ends as soon as the worker is told to stop (post_worker_init below), and consulta
# follows again once db is back. gunicorn 27's gthread worker also keeps every
# idle keep-alive connection open for STOP_KEEPALIVE_LINGER (2 s, capped by the graceful timeout)
# while it stops, for a request a client may be sending on it just then; registro keeps dozens
# idle, so db's stop always took the whole timeout. 0.1 s still covers a request in transit on
# 127.0.0.1. Measured with one idle keep-alive connection: a stop took 2.04 s at a 2 s timeout,
# 1.02 s at 1 s, 0.45-0.63 s with the linger at 0.1 s (0.43-0.54 s with no connection); a cold start
# 0.47-0.54 s to the first /ping.

if hasattr(gthread, "STOP_KEEPALIVE_LINGER"):
    gthread.STOP_KEEPALIVE_LINGER = 0.1

# gunicorn takes its settings from this module's names.
globals().update(service_settings("sportapp_db:create_app()", default_port=8101, graceful_timeout_s=1))


def post_worker_init(worker: Any) -> None:
    """On SIGTERM, end the event streams first, then stop as gunicorn does."""
    services = worker.wsgi.extensions["sportapp_db.services"]
    stop_gracefully = signal.getsignal(signal.SIGTERM)

    def end_streams_then_stop(signum: int, frame: Any) -> None:
        services.new_events.close()
        if callable(stop_gracefully):
            stop_gracefully(signum, frame)

    signal.signal(signal.SIGTERM, end_streams_then_stop)

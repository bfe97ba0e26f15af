"""gunicorn settings for the consulta service: ``gunicorn -c apps/consulta/gunicorn.conf.py``."""

from typing import Any

from sportapp_core.adapters.web.gunicorn import PROMPTLY_CLOSING_SYNC, service_settings, shared_metrics
from sportapp_core.adapters.worker_seat import share_with_workers

# Synchronous workers, one per core of the 2-core machines this stack is measured on, behind a
# buffering proxy (NGINX): a query is a short, CPU-bound read, and no thread hand-off or GIL
# contention is paid per request (measured in `python -m sportapp_lab.bench`: more answers per
# second than gthread with 1-8 threads, with the same worker settings on both sides of the
# comparison). Two workers answered consulta's lookups at 3,920-4,450 a second against 2,500-2,670
# for one (wrk straight at gunicorn). The worker is gunicorn's sync one, except that it does not
# wait for NGINX to close after each answer (``sportapp_core.adapters.web.gunicorn_worker``).
#
# One worker at a time projects, the one that holds the instance's seat, made here in the master
# before it forks (``sportapp_consulta.projector_seat``); the workers' metrics add up
# (SharedMetrics). ``SPORTAPP_WORKERS`` overrides the count.

# gunicorn takes its settings from this module's names.
globals().update(
    # threads stays 1: one request at a time is what the worker is.
    service_settings(
        "sportapp_consulta:create_app()",
        default_port=8102,
        worker_class=PROMPTLY_CLOSING_SYNC,
        default_workers=2,
        default_threads=1,
    )
)


def on_starting(_server: Any) -> None:
    """In the master, before any worker: the shared metrics' folder and the projector's seat."""
    shared_metrics.start()
    share_with_workers()


def on_exit(_server: Any) -> None:
    """In the master, as it exits."""
    shared_metrics.end()

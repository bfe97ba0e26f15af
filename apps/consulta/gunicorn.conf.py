"""gunicorn settings for the consulta service: ``gunicorn -c apps/consulta/gunicorn.conf.py``."""

from sportapp_core.adapters.web.gunicorn import PROMPTLY_CLOSING_SYNC, service_settings

# One synchronous worker, gunicorn's own model behind a buffering proxy (NGINX): a query is a
# short, CPU-bound read, and no thread hand-off or GIL contention is paid per request (measured
# in `python -m bench`: more answers per second than gthread with 1-8 threads, with the same
# worker settings on both sides of the comparison). The projector runs on a thread of its own
# in that worker. More throughput: more consulta instances behind the gateway. The worker is
# gunicorn's sync one, except that it does not wait for NGINX to close after each answer
# (``sportapp_core.adapters.web.gunicorn_worker``).

# gunicorn takes its settings from this module's names.
globals().update(
    # threads stays 1: one request at a time is what the worker is.
    service_settings(
        "sportapp_consulta:create_app()",
        default_port=8102,
        worker_class=PROMPTLY_CLOSING_SYNC,
        default_threads=1,
    )
)

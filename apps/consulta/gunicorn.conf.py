"""gunicorn settings for the consulta service: ``gunicorn -c apps/consulta/gunicorn.conf.py``."""

from sportapp_core.adapters.web.gunicorn import service_settings

# One synchronous worker, gunicorn's own model behind a buffering proxy (NGINX): a query is a
# short, CPU-bound read, and no thread hand-off or GIL contention is paid per request (measured
# in `python -m bench`: more answers per second than gthread with 1-8 threads, with the same
# worker settings on both sides of the comparison). The projector runs on a thread of its own
# in that worker. More throughput: more consulta instances behind the gateway.

# gunicorn takes its settings from this module's names.
globals().update(
    # threads must stay 1: gunicorn turns a sync worker with more threads into gthread.
    service_settings(
        "sportapp_consulta:create_app()", default_port=8102, worker_class="sync", default_threads=1
    )
)

"""gunicorn settings for the db service: ``gunicorn -c apps/db/gunicorn.conf.py``."""

from sportapp_core.adapters.web.gunicorn import service_settings

# One gthread worker: SQLite takes one writer at a time anyway, and in one process a committed
# registration wakes the event stream's followers directly (sportapp_core.services.feed), instead
# of every follower looking at the outbox 50 times a second. Threads: one per event stream (one
# per consulta instance), the registrations in flight, and the probes.
#
# A short graceful stop: consulta's event stream never ends by itself before its lifetime, and
# would otherwise hold a restart of db for the whole graceful timeout; it is cut and consulta
# follows again, and every write is one short transaction.

# gunicorn takes its settings from this module's names.
globals().update(service_settings("sportapp_db:create_app()", default_port=8101, graceful_timeout_s=2))

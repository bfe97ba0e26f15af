"""gunicorn settings for the db service: ``gunicorn -c apps/db/gunicorn.conf.py``."""

from sportapp_core.adapters.web.gunicorn import service_settings

# One gthread worker: SQLite takes one writer at a time anyway, and in one process a committed
# registration wakes the feed's waiting long-polls directly (sportapp_core.services.feed), instead
# of every long-poll looking at the outbox 50 times a second. Threads: one per long-poll (one per
# consulta instance), the registrations in flight, and the probes.
#
# A short graceful stop: consulta's long-polls of the event feed (up to 5 s) would otherwise hold
# a restart of db for seconds; they are cut and retried, and every write is one short transaction.

# gunicorn takes its settings from this module's names.
globals().update(service_settings("sportapp_db:create_app()", default_port=8101, graceful_timeout_s=2))

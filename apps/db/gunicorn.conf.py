"""gunicorn settings for the db service: ``gunicorn -c apps/db/gunicorn.conf.py``."""

from sportapp_core.adapters.web.gunicorn import service_settings

# One gthread worker: SQLite takes one writer at a time anyway, and in one process a committed
# registration wakes the event stream's followers directly (sportapp_core.services.feed), instead
# of every follower looking at the outbox 50 times a second. Threads: one per event stream (one
# per consulta instance), the registrations in flight, and the probes.
#
# A short graceful stop (1 s, gunicorn's least above none): while db stops, no registration can
# be recorded, and registro holds them for db only so long (SPORTAPP_DB_RESEND_UNTIL_MS). Every
# write is one short transaction; consulta's event stream never ends by itself before its
# lifetime, and registro's idle keep-alive connections would each be kept for up to 2 s: both are
# cut, and consulta follows again. Measured: a stop took 2.04 s at a 2 s timeout (an idle
# keep-alive connection held it), 1.02 s at 1 s; a cold start 0.47-0.54 s to the first /ping.

# gunicorn takes its settings from this module's names.
globals().update(service_settings("sportapp_db:create_app()", default_port=8101, graceful_timeout_s=1))

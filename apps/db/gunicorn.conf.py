"""gunicorn settings for the db service: ``gunicorn -c apps/db/gunicorn.conf.py``."""

from sportapp_core.adapters.web.gunicorn import service_settings

# A short graceful stop: consulta's long-polls of the event feed (up to 5 s) would otherwise hold
# a restart of db for seconds; they are cut and retried, and every write is one short transaction.

# gunicorn takes its settings from this module's names.
globals().update(service_settings("sportapp_db:create_app()", default_port=8101, graceful_timeout_s=2))

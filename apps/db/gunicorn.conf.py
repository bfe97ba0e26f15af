"""gunicorn settings for the db service: ``gunicorn -c apps/db/gunicorn.conf.py``."""

from sportapp_core.adapters.web.gunicorn import service_settings

# gunicorn takes its settings from this module's names.
globals().update(service_settings("sportapp_db:create_app()", default_port=8101))

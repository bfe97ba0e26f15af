"""gunicorn settings for the registro service: ``gunicorn -c apps/registro/gunicorn.conf.py``."""

from sportapp_core.adapters.web.gunicorn import service_settings

# More threads than registrations admitted at once (SPORTAPP_MAX_IN_FLIGHT, 12): the spare ones
# answer /ping and /health however busy the instance is.

# gunicorn takes its settings from this module's names.
globals().update(
    service_settings("sportapp_registro:create_app()", default_port=8103, default_threads=32)
)

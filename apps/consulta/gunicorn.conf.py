"""gunicorn settings for the consulta service: ``gunicorn -c apps/consulta/gunicorn.conf.py``."""

from sportapp_core.adapters.web.gunicorn import service_settings

# Each worker starts its own projector thread when the app is loaded (after the fork): the
# projection's compare-and-set on its position makes several projectors safe.

# gunicorn takes its settings from this module's names.
globals().update(service_settings("sportapp_consulta:create_app()", default_port=8102))

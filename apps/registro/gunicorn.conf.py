"""gunicorn settings for the registro service: ``gunicorn -c apps/registro/gunicorn.conf.py``."""

from sportapp_registro.settings import gunicorn_settings

# gunicorn takes its settings from this module's names.
globals().update(gunicorn_settings())

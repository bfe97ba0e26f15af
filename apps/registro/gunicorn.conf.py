"""gunicorn settings for the registro service: ``gunicorn -c apps/registro/gunicorn.conf.py``."""

from sportapp_core.adapters.web.gunicorn import GunicornSettings, mark_worker_dead

# More threads than registrations admitted at once (SPORTAPP_MAX_IN_FLIGHT, 24): the spare ones
# answer /ping and /health however busy the instance is.
_settings = GunicornSettings.from_environ(default_port=8103, default_threads=32)

wsgi_app = "sportapp_registro:create_app()"
bind = _settings.bind
workers = _settings.workers
worker_class = "gthread"
threads = _settings.threads
keepalive = 75
timeout = 30
graceful_timeout = 10
errorlog = "-"
loglevel = "info"
child_exit = mark_worker_dead
# gunicorn >= 25.1 opens a control socket at one per-user path by default: with db, consulta and
# both registros on one machine, each start would take it over from the others.
control_socket_disable = True

"""gunicorn settings for the consulta service: ``gunicorn -c apps/consulta/gunicorn.conf.py``."""

from sportapp_core.adapters.web.gunicorn import GunicornSettings, mark_worker_dead

_settings = GunicornSettings.from_environ(default_port=8102)

# Loaded in each worker after the fork (no preload_app): every worker starts its own projector
# thread, with its own engine and connections.
wsgi_app = "sportapp_consulta:create_app()"
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

"""The outbox relay: publishes the write store's events to a Redis stream, for consulta.

It runs as a process of its own (``python -m sportapp_db.relay``), not inside db's gunicorn
workers: one loop is enough, and a worker's lifetime belongs to the requests it serves.
supervisord (or the container runtime) restarts it; it keeps no state, it resumes from the
stream's newest entry. No lock elects it: the stream refuses an entry id it already holds (see
sportapp_core.adapters.redis_streams), so a second relay only repeats work, it cannot duplicate
or reorder an event.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sportapp_core.adapters.json_logs import configure_logging
from sportapp_core.adapters.redis_streams import RedisStreamPublisher, connect
from sportapp_core.adapters.settings import settings_from_env
from sportapp_core.adapters.sqlalchemy import create_store_engine
from sportapp_core.adapters.sqlalchemy.migrations import WRITE_STORE_SCHEMA, upgrade_schema
from sportapp_core.adapters.sqlalchemy.repositories import PreparedEventFeed
from sportapp_core.services.relay import Relay, RelaySettings
from sportapp_db.relay.settings import RelayProcessSettings


def build_relay(settings: RelayProcessSettings) -> Relay:
    """The relay for ``settings``: the write store (brought to its newest schema) and the stream."""
    engine = create_store_engine(settings.store_url)
    # The relay may start before db has migrated the store; the migration runs under a lock.
    upgrade_schema(engine, WRITE_STORE_SCHEMA)
    client = connect(settings.redis_url, read_timeout_s=5.0)
    return Relay(
        PreparedEventFeed(engine),
        RedisStreamPublisher(client, settings.event_stream),
        RelaySettings(batch_size=settings.relay_batch_size, wait_s=settings.relay_wait_s),
    )


def main(config: Mapping[str, Any] | None = None) -> None:
    """Run the relay until SIGTERM or SIGINT."""
    settings = settings_from_env(RelayProcessSettings, os.environ, config)
    configure_logging(settings.instance, settings.log_level)
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stopped.set())
    heartbeat = Path(settings.heartbeat_file).touch if settings.heartbeat_file else None
    build_relay(settings).run(stopped, heartbeat)

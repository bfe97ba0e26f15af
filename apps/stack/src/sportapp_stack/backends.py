"""Where a stack keeps its data: SQLite files in its work folder, or a PostgreSQL database of its
own (``CREATE DATABASE sportapp_<run id>``) with the events on a Redis stream of its own."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import secrets
import time
from collections.abc import Iterator

import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from sportapp_stack.config import ConfigError, StackConfig

POSTGRES_URL_VARIABLE = "SPORTAPP_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
_log = logging.getLogger(__name__)
_NAME = re.compile(r"^sportapp_[a-z0-9_]{1,50}$")


def postgres_server_url() -> str:
    """The server runs get their databases on: ``SPORTAPP_POSTGRES_URL``, or the local one."""
    return os.environ.get(POSTGRES_URL_VARIABLE, DEFAULT_POSTGRES_URL)


def new_run_id() -> str:
    """A run id unique enough for a database and a stream name (time, then random)."""
    return time.strftime("%Y%m%dt%H%M%S", time.gmtime()) + "_" + secrets.token_hex(3)


def with_backend(config: StackConfig, run_id: str, server_url: str | None = None) -> StackConfig:
    """``config`` with its stores made: nothing to do on SQLite; on PostgreSQL, a new database
    ``sportapp_<run_id>`` for the write store and consulta's read model, and consulta fed through
    a Redis stream of the run's own by the relay."""
    if config.backend != "postgres":
        return config
    server = server_url or postgres_server_url()
    name = _checked_name(f"sportapp_{run_id}".lower())
    _execute(server, f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    return dataclasses.replace(
        config,
        store_url=url,
        read_store_url=url,
        event_transport="redis",
        event_stream=f"sportapp:{name}:events",
        run_database=name,
        postgres_server_url=server,
    )


@contextlib.contextmanager
def stores_dropped_on_failure(config: StackConfig) -> Iterator[None]:
    """Drop the run's stores (made by :func:`with_backend`) if the block raises: a stack that never
    got as far as its own ``stop`` (ports taken, a config NGINX refuses, supervisord not starting)
    must not leave a database and a stream behind. ``keep_database`` keeps them, as ``down`` does."""
    try:
        yield
    except BaseException:
        if config.run_database and not config.keep_database:
            # The error that got here is the one to report; a failed drop says so in the log only.
            try:
                drop_run_stores(config)
            except ConfigError as error:
                _log.warning("could not drop the run's stores after a failed start: %s", error)
        raise


def drop_run_stores(config: StackConfig) -> None:
    """Drop the run's database (ending its leftover connections) and delete its stream."""
    name = _checked_name(config.run_database)
    _execute(
        config.postgres_server_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = :name AND pid <> pg_backend_pid()",
        {"name": name},
    )
    _execute(config.postgres_server_url, f'DROP DATABASE IF EXISTS "{name}"')
    if config.event_transport == "redis":
        client = redis.Redis.from_url(config.redis_url, socket_connect_timeout=2, socket_timeout=5)
        try:
            client.delete(config.event_stream)
        except redis.RedisError as error:
            raise ConfigError(f"cannot delete the stream {config.event_stream}: {error}") from None
        finally:
            client.close()


def _checked_name(name: str) -> str:
    # Names go into CREATE/DROP DATABASE, which take no bound parameters.
    if not _NAME.match(name):
        raise ConfigError(f"{name!r} cannot name a run's database: sportapp_ with letters, digits, _")
    return name


def _execute(server_url: str, statement: str, parameters: dict[str, str] | None = None) -> None:
    # CREATE/DROP DATABASE cannot run inside a transaction.
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement), parameters or {})
    except SQLAlchemyError as error:
        shown = make_url(server_url).render_as_string(hide_password=True)
        raise ConfigError(f"PostgreSQL at {shown}: {getattr(error, 'orig', None) or error}") from None
    finally:
        engine.dispose()

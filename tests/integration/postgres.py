"""The PostgreSQL server of the integration tests, and a fresh schema per test on it.

The server is not started here: CI starts it (on a developer's machine it is usually running). When
it does not answer, the tests that need it fail and say so, unless ``SPORTAPP_SKIP_POSTGRES=1``.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

URL_VARIABLE = "SPORTAPP_TEST_POSTGRES_URL"
SKIP_VARIABLE = "SPORTAPP_SKIP_POSTGRES"
DEFAULT_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA_PREFIX = "sportapp_test_"
# Schemas of test runs that were killed before they could drop theirs are dropped after this long.
STALE_AFTER_S = 3 * 3600
CONNECT_TIMEOUT_S = 5


def server_url() -> str:
    """The server's URL: ``SPORTAPP_TEST_POSTGRES_URL``, or the local server CI starts."""
    return os.environ.get(URL_VARIABLE, DEFAULT_SERVER_URL)


def skipped() -> bool:
    """Whether the PostgreSQL tests are to be skipped (``SPORTAPP_SKIP_POSTGRES=1``)."""
    return os.environ.get(SKIP_VARIABLE) == "1"


def unreachable_reason(url: str) -> str | None:
    """Why the server at ``url`` cannot be used, or None when it answers."""
    try:
        engine = create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    except ImportError as error:
        return f"no driver: {error} (pip install 'psycopg[binary]')"
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return str(getattr(error, "orig", None) or error).strip()
    finally:
        engine.dispose()
    return None


def schema_url(server: str, schema: str) -> str:
    """``server``'s URL with every connection working in ``schema`` and named after it."""
    url: URL = make_url(server).update_query_dict(
        {"options": f"-csearch_path={schema}", "application_name": schema}
    )
    return url.render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_schema(server: str) -> Iterator[str]:
    """A new, empty schema; yields a URL whose connections use it. Dropped however the test ends.

    Connections the test left open are ended first, found by their application name: one still
    inside a transaction would otherwise hold the drop forever.
    """
    schema = f"{SCHEMA_PREFIX}{int(time.time())}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield schema_url(server, schema)
        finally:
            with admin.connect() as connection:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :schema AND pid <> pg_backend_pid()"
                    ),
                    {"schema": schema},
                )
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def drop_stale_schemas(server: str) -> None:
    """Drop the test schemas older than :data:`STALE_AFTER_S` (left by runs that were killed)."""
    oldest_kept = int(time.time()) - STALE_AFTER_S
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            names = connection.execute(
                text("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, :prefix)"),
                {"prefix": SCHEMA_PREFIX},
            ).scalars()
            for name in list(names):
                created = name.removeprefix(SCHEMA_PREFIX).split("_", 1)[0]
                if created.isdigit() and int(created) < oldest_kept:
                    connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    finally:
        admin.dispose()


def end_other_connections(store_url: str) -> int:
    """End every connection of this test's schema but one made here, outside any pool (they share
    the schema's application name); how many were ended."""
    admin = create_engine(store_url, poolclass=NullPool)
    try:
        with admin.connect() as connection:
            return len(
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name"
                        " = current_setting('application_name') AND pid <> pg_backend_pid()"
                    )
                ).all()
            )
    finally:
        admin.dispose()

"""Schema migrations (Alembic) of the two stores: the write store and consulta's read model.

Each store has an Alembic environment of its own (``write_store/``, ``read_store/``, each with its
``versions/``) and its own version table, so that both could share one database. Services call
:func:`upgrade_schema` when they start. A new revision, compared against the tables in Python::

    from alembic import command
    from sportapp_core.adapters.sqlalchemy import create_store_engine
    from sportapp_core.adapters.sqlalchemy.migrations import (
        WRITE_STORE_SCHEMA, alembic_config, upgrade_schema
    )

    engine = create_store_engine("sqlite:///var/dev.db")
    upgrade_schema(engine, WRITE_STORE_SCHEMA)
    with engine.connect() as connection:
        command.revision(alembic_config(WRITE_STORE_SCHEMA, connection), "what changes", autogenerate=True)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import MetaData, column, inspect, select, table
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from sportapp_core.adapters.sqlalchemy.engine import lock_until_commit, writing
from sportapp_core.adapters.sqlalchemy.read_model import read_metadata
from sportapp_core.adapters.sqlalchemy.tables import metadata

if TYPE_CHECKING:
    from alembic.config import Config

_HERE = Path(__file__).resolve().parent
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreSchema:
    """A store whose schema Alembic keeps: its tables, its scripts, where its revision is kept."""

    name: str
    metadata: MetaData
    # The PostgreSQL advisory lock that upgrades of this store take (see :func:`upgrade_schema`).
    lock_key: int
    # The newest revision of its scripts, written here so that a service starting on a store at
    # that revision never imports Alembic (a fifth of db's start; a test keeps it equal to
    # what Alembic finds in the scripts).
    head: str

    @property
    def script_location(self) -> str:
        """The folder of this store's Alembic environment."""
        return str(_HERE / self.name)

    @property
    def version_table(self) -> str:
        """The table holding the store's revision."""
        return f"alembic_version_{self.name}"

    def includes_table(self, name: str) -> bool:
        """Whether a table found in the database is this store's business when comparing schemas.

        Another store's tables and revision are not (both stores may share one database); any
        other table is, so that a table the metadata lacks shows up as a difference.
        """
        return name in self.metadata.tables or name not in _foreign_tables(self)


WRITE_STORE_SCHEMA = StoreSchema("write_store", metadata, lock_key=0x5350_4F52_5441_0003, head="write_0002")
READ_STORE_SCHEMA = StoreSchema("read_store", read_metadata, lock_key=0x5350_4F52_5441_0004, head="read_0001")
SCHEMAS = (WRITE_STORE_SCHEMA, READ_STORE_SCHEMA)

# Alembic runs a migration through module-level proxies (alembic.context, alembic.op): one upgrade
# at a time per process. Other processes are kept out by the database lock.
_one_upgrade_per_process = threading.Lock()


def _foreign_tables(schema: StoreSchema) -> Collection[str]:
    tables = {other.version_table for other in SCHEMAS}
    for other in SCHEMAS:
        if other is not schema:
            tables |= set(other.metadata.tables)
    return tables - set(schema.metadata.tables)


def alembic_config(schema: StoreSchema, connection: Connection) -> Config:
    """Alembic's configuration for ``schema``, working on ``connection`` (and its transaction)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", schema.script_location)
    config.attributes["connection"] = connection
    return config


# How long a starting worker keeps trying while the store is busy (another worker upgrading it,
# on a loaded machine) or not answering yet (PostgreSQL starting beside it).
UPGRADE_PATIENCE_S = 60.0


def upgrade_schema(engine: Engine, schema: StoreSchema, *, patience_s: float = UPGRADE_PATIENCE_S) -> None:
    """Bring the store's ``schema`` to its newest revision; safe when every worker does it at once.

    One transaction (SQLite and PostgreSQL both have transactional DDL) under one lock: SQLite's
    write lock, taken at ``BEGIN IMMEDIATE``, or a PostgreSQL advisory lock. Workers starting
    together queue; each after the first finds the store at its newest revision and does nothing.
    An upgrade that fails leaves the store as it was. A store made before migrations existed (by
    ``create_all``) is adopted by the first revision, which creates only what is missing.

    A store already at the newest revision is seen without taking the write lock, so only the
    workers that find it behind queue for it. SQLite's ``busy_timeout`` bounds one wait for the
    lock, and queued workers on a loaded machine can pass it, so a store that is busy or not
    answering is tried again, for ``patience_s`` in all.
    """
    deadline = time.monotonic() + patience_s
    while True:
        try:
            with engine.connect() as connection:
                if current_revision(connection, schema) == schema.head:
                    return
            from alembic import command  # only a store behind its newest revision needs Alembic

            with _one_upgrade_per_process, writing(engine).begin() as connection:
                lock_until_commit(connection, schema.lock_key)
                command.upgrade(alembic_config(schema, connection), "head")
            return
        except OperationalError as error:
            if time.monotonic() >= deadline:
                raise
            logger.warning("the %s is busy or not answering (%s); upgrading again", schema.name, error.orig)
            time.sleep(0.25)


def current_revision(connection: Connection, schema: StoreSchema) -> str | None:
    """The revision the store's ``schema`` is at (None before its first upgrade), read from
    Alembic's version table as Alembic keeps it (one row per head; these histories have one)."""
    if not inspect(connection).has_table(schema.version_table):
        return None
    version_table = table(schema.version_table, column("version_num"))
    revisions = connection.execute(select(version_table.c.version_num)).scalars().all()
    return revisions[0] if len(revisions) == 1 else None


def head_revision(schema: StoreSchema) -> str | None:
    """The newest revision among ``schema``'s scripts, as Alembic finds it."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(schema.script_location).get_current_head()

"""A fresh write store (SQLite file or PostgreSQL schema, see tests/integration/conftest.py) at its
newest schema, and units of work on it: writing ones prepared on the DBAPI connection (what db
runs), and through SQLAlchemy's ``Connection`` (the same transaction, the reference)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from sportapp_core.adapters.sqlalchemy import SqlAlchemyUnitOfWorkFactory, create_store_engine
from sportapp_core.adapters.sqlalchemy.migrations import WRITE_STORE_SCHEMA, upgrade_schema


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = create_store_engine(store_url)
    upgrade_schema(engine, WRITE_STORE_SCHEMA)
    yield engine
    engine.dispose()


@pytest.fixture(params=["prepared-writes", "connection-writes"])
def uow_factory(engine: Engine, request: pytest.FixtureRequest) -> SqlAlchemyUnitOfWorkFactory:
    return SqlAlchemyUnitOfWorkFactory(engine, prepared_writes=request.param == "prepared-writes")

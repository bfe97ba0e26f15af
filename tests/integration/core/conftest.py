"""A fresh SQLite write store in the test's own folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from sportapp_core.adapters.sqlalchemy import SqlAlchemyUnitOfWorkFactory, create_store_engine
from sportapp_core.adapters.sqlalchemy.engine import create_schema


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "sportapp.db"


@pytest.fixture
def store_url(store_path: Path) -> str:
    return f"sqlite:///{store_path}"


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = create_store_engine(store_url)
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def uow_factory(engine: Engine) -> SqlAlchemyUnitOfWorkFactory:
    return SqlAlchemyUnitOfWorkFactory(engine)

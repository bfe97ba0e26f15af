"""SQLAlchemy 2 adapters: the write store (users, outbox, idempotency keys) on SQLite or PostgreSQL."""

from sportapp_core.adapters.sqlalchemy.engine import create_store_engine
from sportapp_core.adapters.sqlalchemy.tables import metadata
from sportapp_core.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWorkFactory

__all__ = ["SqlAlchemyUnitOfWorkFactory", "create_store_engine", "metadata"]

"""The unit of work: one connection, one transaction, the repositories bound to it (a writing one
on the DBAPI connection, its statements prepared: see ``prepared_unit_of_work``)."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from sportapp_core.adapters.sqlalchemy.engine import store_unavailable, writing
from sportapp_core.adapters.sqlalchemy.prepared_unit_of_work import PreparedUnitOfWork, WriteStatements
from sportapp_core.adapters.sqlalchemy.repositories import (
    WRITE_STORE,
    SqlAlchemyIdempotencyKeys,
    SqlAlchemyOutbox,
    SqlAlchemyUserRepository,
)
from sportapp_core.services.errors import DependencyUnavailable


class SqlAlchemyUnitOfWork:
    """A transaction on the write store; rolled back on exit unless committed."""

    users: SqlAlchemyUserRepository
    outbox: SqlAlchemyOutbox
    events: SqlAlchemyOutbox
    idempotency: SqlAlchemyIdempotencyKeys

    def __init__(self, engine: Engine, *, for_writing: bool = False) -> None:
        self._engine = engine
        self._for_writing = for_writing
        self._connection: Connection | None = None

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        try:
            self._connection = self._engine.connect()
            self._connection.begin()
        except DBAPIError as error:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            if store_unavailable(error):
                raise DependencyUnavailable(WRITE_STORE) from error
            raise
        self.users = SqlAlchemyUserRepository(self._connection)
        self.outbox = self.events = SqlAlchemyOutbox(self._connection)
        self.idempotency = SqlAlchemyIdempotencyKeys(self._connection, for_writing=self._for_writing)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._connection is not None
        try:
            if self._connection.in_transaction():
                self._connection.rollback()
        except DBAPIError:
            # A broken connection cannot roll back; closing it discards it from the pool.
            pass
        finally:
            self._connection.close()
            self._connection = None
        if exc is not None and store_unavailable(exc):
            # The callers speak the domain's language: the store is unavailable, retry later.
            raise DependencyUnavailable(WRITE_STORE) from exc

    def commit(self) -> None:
        """Commit the transaction."""
        assert self._connection is not None, "commit outside of 'with'"
        self._connection.commit()


class SqlAlchemyUnitOfWorkFactory:
    """Makes one unit of work per use, never a shared one (gunicorn's threads would share it).

    A writing unit is a :class:`PreparedUnitOfWork` (every registration is one, on db's path)
    unless ``prepared_writes`` is off: then it is a writing :class:`SqlAlchemyUnitOfWork`, the
    same transaction through SQLAlchemy's ``Connection``. Reading units are always the latter.
    """

    def __init__(self, engine: Engine, *, prepared_writes: bool = True) -> None:
        self.engine = engine
        self._writing_engine = writing(engine)
        self._write_statements = WriteStatements(engine.dialect) if prepared_writes else None

    def __call__(self, *, for_writing: bool = False) -> SqlAlchemyUnitOfWork | PreparedUnitOfWork:
        if not for_writing:
            return SqlAlchemyUnitOfWork(self.engine)
        if self._write_statements is not None:
            return PreparedUnitOfWork(self.engine, self._write_statements)
        return SqlAlchemyUnitOfWork(self._writing_engine, for_writing=True)

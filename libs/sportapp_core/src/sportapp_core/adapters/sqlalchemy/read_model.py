"""consulta's read model: its tables, and the projection's writes to them (SQLite or PostgreSQL).

The read model is a store of its own, never the write store: consulta keeps answering from it while
the db service is down. Reads go through the plain queries of :mod:`.views`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType

from sqlalchemy import Column, Float, MetaData, String, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from sportapp_core.adapters.sqlalchemy.engine import store_unavailable, writing
from sportapp_core.adapters.sqlalchemy.tables import Id
from sportapp_core.adapters.sqlalchemy.types import UtcDateTime
from sportapp_core.domain import UserRegistered
from sportapp_core.ports import StoredPosition
from sportapp_core.services.errors import DependencyUnavailable

READ_STORE = "read store"

read_metadata = MetaData()

user_views = Table(
    "user_views",
    read_metadata,
    # The write side's user id: inserting it again is how a replayed event is recognised.
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("email", String(320), nullable=False),
    Column("email_canonical", String(320), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("projected_at", UtcDateTime(), nullable=False),
)

projection_position = Table(
    "projection_position",
    read_metadata,
    Column("name", String(64), primary_key=True),
    Column("position", Id, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=True),
    # The latest batch's worst lag, stored with it so that every process can report it.
    Column("lag_ms", Float, nullable=True),
)


# Built once, executed with their values (see repositories.py for why).
_ADVANCE = (
    update(projection_position)
    .where(
        projection_position.c.name == bindparam("projection"),
        projection_position.c.position == bindparam("expected"),
    )
    .values(position=bindparam("to"), updated_at=bindparam("at"), lag_ms=bindparam("lag"))
)
_ADD_VIEWS = {
    dialect: module.insert(user_views).on_conflict_do_nothing(index_elements=[user_views.c.id])
    for dialect, module in (("sqlite", sqlite), ("postgresql", postgresql))
}
_POSITION = select(projection_position).where(projection_position.c.name == bindparam("projection"))


@contextmanager
def read_store_errors() -> Iterator[None]:
    """Turn the read store's outages into :class:`DependencyUnavailable` (503 on the API)."""
    try:
        yield
    except DBAPIError as error:
        if store_unavailable(error):
            raise DependencyUnavailable(READ_STORE) from error
        raise


class SqlAlchemyProjectionTransaction:
    """A write transaction on the read model (``BEGIN IMMEDIATE`` on SQLite), rolled back on exit
    unless committed."""

    def __init__(self, engine: Engine, name: str) -> None:
        self._engine = engine
        self._name = name
        self._connection: Connection | None = None

    def __enter__(self) -> SqlAlchemyProjectionTransaction:
        with read_store_errors():
            connection = self._engine.connect()
            try:
                connection.begin()
            except BaseException:
                connection.close()
                raise
        self._connection = connection
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        connection = self._require()
        try:
            if connection.in_transaction():
                connection.rollback()
        except DBAPIError:
            pass  # a broken connection cannot roll back; closing it discards it from the pool
        finally:
            connection.close()
            self._connection = None
        if exc is not None and store_unavailable(exc):
            raise DependencyUnavailable(READ_STORE) from exc

    def advance(self, *, expected: int, to: int, at: datetime, lag_ms: float) -> bool:
        """Compare-and-set the position: ``UPDATE ... WHERE position = expected``; True if it moved.

        On PostgreSQL a concurrent projector blocks on the row until this transaction ends and then
        finds the position changed; on SQLite ``BEGIN IMMEDIATE`` serialises the two outright.
        """
        result = self._require().execute(
            _ADVANCE, {"projection": self._name, "expected": expected, "to": to, "at": at, "lag": lag_ms}
        )
        return result.rowcount == 1

    def add_users(self, events: Sequence[UserRegistered], projected_at: datetime) -> int:
        """Insert a view per event whose user id is not there yet; return how many were inserted.

        ``ON CONFLICT DO NOTHING`` on the user id: a replayed event inserts nothing, in the same
        statement as the new ones.
        """
        if not events:
            return 0
        connection = self._require()
        inserted = 0
        for event in events:
            result = connection.execute(
                _ADD_VIEWS[connection.dialect.name],
                {
                    "id": event.user_id,
                    "email": event.email.value,
                    "email_canonical": event.email.canonical,
                    "created_at": event.registered_at,
                    "projected_at": projected_at,
                },
            )
            inserted += result.rowcount
        return inserted

    def commit(self) -> None:
        """Commit the views and the position together."""
        self._require().commit()

    def _require(self) -> Connection:
        assert self._connection is not None, "used outside of 'with'"
        return self._connection


class SqlAlchemyReadModel:
    """The :class:`~sportapp_core.services.projection.ReadModel` over a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writing_engine = writing(engine)

    def position(self, name: str) -> StoredPosition:
        """The committed position of projection ``name``."""
        with read_store_errors(), self.engine.connect() as connection:
            row = connection.execute(_POSITION, {"projection": name}).first()
        if row is None:
            return StoredPosition(position=0)
        return StoredPosition(position=row.position, updated_at=row.updated_at, lag_ms=row.lag_ms)

    def transaction(self, name: str) -> SqlAlchemyProjectionTransaction:
        """A write transaction for projection ``name``."""
        return SqlAlchemyProjectionTransaction(self._writing_engine, name)

"""Reads of one statement compiled once by SQLAlchemy and run straight on a pooled DBAPI connection.

consulta's hottest answers (a user by id, "is this address taken?") are one indexed lookup each,
and db's event stream reads the outbox after a position for every batch it sends.
Through ``Connection.execute`` SQLAlchemy spends about 290k instructions on such a read (its
execution context, result object and events); the same statement on the pool's DBAPI connection
costs about 75k (counted with callgrind, SQLite, SQLAlchemy 2.1). The statement is still built as
a Core ``select()`` and compiled by SQLAlchemy for the engine's dialect, connections still come
from its pool (invalidated on a disconnect, as it would do), and each column goes through its
type's own result processor: only the per-call machinery is left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from sportapp_core.services.errors import DependencyUnavailable


class PreparedRead:
    """One ``select()``, for one engine: its first row, or all of them."""

    def __init__(self, engine: Engine, statement: Select[Any], store: str) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self._engine = engine
        self._store = store
        self._sql = str(compiled)
        self._positions = tuple(compiled.positiontup or ()) if compiled.positional else None
        # Values the dialect bound itself (SQLite renders a LIMIT with "OFFSET ?" bound to 0).
        self._defaults = dict(compiled.params)
        self._names = [str(column.key) for column in statement.selected_columns]
        # Each type as adapted to this dialect (SQLite's DATETIME reads its text form back).
        self._processors: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]
        dbapi = dialect.loaded_dbapi
        self._dbapi_error: type[Any] = dbapi.Error
        self._dbapi_unavailable: type[Any] = dbapi.OperationalError

    def first(self, parameters: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first row for ``parameters`` as ``{column: value}``, or None.

        Raises :class:`DependencyUnavailable` when the store does not answer.
        """
        rows = self._execute(parameters, many=False)
        return rows[0] if rows else None

    def all(self, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row for ``parameters``, each as ``{column: value}``.

        Raises :class:`DependencyUnavailable` when the store does not answer.
        """
        return self._execute(parameters, many=True)

    def _execute(self, parameters: Mapping[str, Any], *, many: bool) -> list[dict[str, Any]]:
        values = {**self._defaults, **parameters}
        bound = tuple(values[name] for name in self._positions) if self._positions is not None else values
        try:
            connection = self._engine.raw_connection()
        except (DBAPIError, self._dbapi_error) as error:
            # The pool hands connection errors on as the driver raised them.
            raise DependencyUnavailable(self._store) from error
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self._sql, bound)
                if many:
                    rows = cursor.fetchall()
                else:
                    row = cursor.fetchone()
                    rows = [] if row is None else [row]
            finally:
                cursor.close()
        except self._dbapi_error as error:
            if self._engine.dialect.is_disconnect(error, connection.dbapi_connection, None):
                connection.invalidate(error)
            if isinstance(error, self._dbapi_unavailable):
                raise DependencyUnavailable(self._store) from error
            raise
        finally:
            connection.close()
        return [
            {
                name: value if process is None else process(value)
                for name, process, value in zip(self._names, self._processors, row, strict=True)
            }
            for row in rows
        ]

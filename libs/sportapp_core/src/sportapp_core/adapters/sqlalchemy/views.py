"""The read side's queries: plain ``select()``s over the read model that return dicts, no domain objects.

What consulta serves is what the projection wrote; none of it touches the write store. The
statements are built once, with bound parameters: building a ``select()`` costs more than running
it, on a path that serves every read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Engine

from sportapp_core.adapters.sqlalchemy.prepared import PreparedRead, ThreadConnections
from sportapp_core.adapters.sqlalchemy.read_model import READ_STORE, read_store_errors, user_views
from sportapp_core.domain import MAX_ID, EmailAddress

_PUBLIC_COLUMNS = (user_views.c.id, user_views.c.email, user_views.c.created_at)
_USER_BY_ID = select(*_PUBLIC_COLUMNS).where(user_views.c.id == bindparam("user_id"))
_USER_BY_EMAIL = select(user_views.c.id).where(
    user_views.c.email_canonical == bindparam("email_canonical")
)
_FIRST_PAGE = select(*_PUBLIC_COLUMNS).order_by(user_views.c.id).limit(bindparam("rows"))
_PAGE_AFTER = _FIRST_PAGE.where(user_views.c.id > bindparam("after"))
_COUNT = select(func.count()).select_from(user_views)


class ReadModelViews:
    """The read model's queries, and an :class:`~sportapp_core.services.queries.EmailRegistry`
    over it (as far as the projection got: it may lag the write store).

    Its one-row lookups are each a :class:`PreparedRead`, on its thread's own connection;
    :meth:`close` closes those.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lookups = ThreadConnections(engine)
        self._user_by_id = PreparedRead(self._lookups, _USER_BY_ID, READ_STORE)
        self._user_by_email = PreparedRead(self._lookups, _USER_BY_EMAIL, READ_STORE)

    def user(self, user_id: int) -> dict[str, Any] | None:
        """The user with ``user_id`` as ``{"id", "email", "created_at"}``, or None."""
        if not 1 <= user_id <= MAX_ID:
            return None  # no store holds such an id, and the driver would refuse to bind it
        return self._user_by_id.first({"user_id": user_id})

    def users_page(self, *, after: int | None, limit: int) -> dict[str, Any]:
        """Up to ``limit`` users with ids above ``after``: ``{"users", "total", "next_after"}``."""
        # One row more than asked for tells whether there is a next page without a second query.
        if after is None:
            query, parameters = _FIRST_PAGE, {"rows": limit + 1}
        else:
            query, parameters = _PAGE_AFTER, {"rows": limit + 1, "after": after}
        # One transaction: the page and the total are read from the same snapshot.
        with read_store_errors(), self._engine.connect() as connection:
            rows = [dict(row._mapping) for row in connection.execute(query, parameters)]
            total = connection.execute(_COUNT).scalar_one()
        has_more = len(rows) > limit
        rows = rows[:limit]
        return {"users": rows, "total": int(total), "next_after": rows[-1]["id"] if has_more else None}

    def is_registered(self, email: EmailAddress) -> bool:
        """Whether a user with ``email``'s canonical address is in the read model."""
        return self._user_by_email.first({"email_canonical": email.canonical}) is not None

    def close(self) -> None:
        """Close the connections the lookups keep (the engine's pool is the caller's)."""
        self._lookups.close()

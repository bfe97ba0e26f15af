"""The read side's queries: plain ``select()``s over the read model that return dicts, no domain objects.

What consulta serves is what the projection wrote; none of it touches the write store.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from sportapp_core.adapters.sqlalchemy.read_model import read_store_errors, user_views
from sportapp_core.domain import MAX_ID, EmailAddress

_PUBLIC_COLUMNS = (user_views.c.id, user_views.c.email, user_views.c.created_at)


def user(engine: Engine, user_id: int) -> dict[str, Any] | None:
    """The user with ``user_id`` as ``{"id", "email", "created_at"}``, or None."""
    if not 1 <= user_id <= MAX_ID:
        return None  # no store holds such an id, and the driver would refuse to bind it
    with read_store_errors(), engine.connect() as connection:
        row = connection.execute(select(*_PUBLIC_COLUMNS).where(user_views.c.id == user_id)).first()
    return dict(row._mapping) if row else None


def users_page(engine: Engine, *, after: int | None, limit: int) -> dict[str, Any]:
    """Up to ``limit`` users with ids above ``after``: ``{"users", "total", "next_after"}``."""
    query = select(*_PUBLIC_COLUMNS).order_by(user_views.c.id).limit(limit + 1)
    if after is not None:
        query = query.where(user_views.c.id > after)
    with read_store_errors(), engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(query)]
        total = connection.execute(select(func.count()).select_from(user_views)).scalar_one()
    # One row more than asked for tells whether there is a next page without a second query.
    has_more = len(rows) > limit
    rows = rows[:limit]
    return {"users": rows, "total": int(total), "next_after": rows[-1]["id"] if has_more else None}


def email_registered(engine: Engine, email_canonical: str) -> bool:
    """Whether a user with this canonical address is in the read model."""
    query = select(user_views.c.id).where(user_views.c.email_canonical == email_canonical)
    with read_store_errors(), engine.connect() as connection:
        return connection.execute(query).first() is not None


class ReadModelEmails:
    """An :class:`~sportapp_core.services.queries.EmailRegistry` over the read model (may lag)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def is_registered(self, email: EmailAddress) -> bool:
        """Whether ``email`` is taken, as far as the projection got."""
        return email_registered(self._engine, email.canonical)

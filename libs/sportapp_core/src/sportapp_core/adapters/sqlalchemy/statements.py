"""The write store's statements, built once with bound parameters and executed with their values:
a statement built per call costs SQLAlchemy more than running it (coercing each value into a bind
parameter, then a cache key over all of them), on the path of every registration. The repositories
run them through SQLAlchemy's ``Connection``, the prepared writing unit of work straight on the
DBAPI connection; both read the same SQL."""

from __future__ import annotations

import hashlib

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from sportapp_core.adapters.sqlalchemy.tables import idempotency_keys, outbox, users

# PostgreSQL advisory locks, shared by every client of the database. The outbox's tail is one
# 64-bit key; an Idempotency-Key is a pair of 32-bit keys (a key space of its own): this constant
# and a hash of the Idempotency-Key.
OUTBOX_TAIL_LOCK = 0x5350_4F52_5441_0001
IDEMPOTENCY_KEY_LOCKS = 0x5350_0002

# A taken address inserts no row (ON CONFLICT DO NOTHING): no savepoint is needed to go on.
INSERT_USER = {
    dialect: module.insert(users)
    .on_conflict_do_nothing(index_elements=[users.c.email_canonical])
    .returning(users.c.id)
    for dialect, module in (("sqlite", sqlite), ("postgresql", postgresql))
}
USER_BY_ID = select(users).where(users.c.id == bindparam("user_id"))
USERS_FIRST = select(users).order_by(users.c.id).limit(bindparam("limit"))
USERS_AFTER = (
    select(users).where(users.c.id > bindparam("after")).order_by(users.c.id).limit(bindparam("limit"))
)
USER_COUNT = select(func.count().label("count")).select_from(users)
# The outbox's next position: the newest + 1, taken under the tail lock (SqlAlchemyOutbox).
_NEXT_POSITION = select(func.coalesce(func.max(outbox.c.position), 0) + 1).scalar_subquery()
APPEND_EVENT = insert(outbox).values(position=_NEXT_POSITION).returning(outbox.c.position)
EVENTS_AFTER = (
    select(outbox)
    .where(outbox.c.position > bindparam("after"))
    .order_by(outbox.c.position)
    .limit(bindparam("limit"))
)
HEAD = select(func.coalesce(func.max(outbox.c.position), 0).label("head"))
KEY = select(idempotency_keys).where(idempotency_keys.c.key == bindparam("key"))
ADD_KEY = insert(idempotency_keys)
# The columns each insert without values() is given (the names of its parameters).
USER_COLUMNS = ("email", "email_canonical", "password_hash", "created_at")
EVENT_COLUMNS = ("name", "payload", "recorded_at")
KEY_COLUMNS = ("key", "email_canonical", "user_id")


def idempotency_lock_key(key: str) -> int:
    """The second half of an Idempotency-Key's advisory lock: a signed 32-bit hash of it (two keys
    that share it only wait for each other, never mix)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big", signed=True)

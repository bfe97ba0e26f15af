"""The write store's schema (SQLAlchemy Core tables; the domain classes stay persistence-free)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text

from sportapp_core.adapters.sqlalchemy.types import UtcDateTime

metadata = MetaData()

# SQLite only gives a 64-bit rowid to INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    # The unique index on the canonical form is what guarantees that an address registers once.
    Column("email_canonical", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

outbox = Table(
    "outbox",
    metadata,
    # Given by the outbox itself, newest + 1 under a lock held until commit (SqlAlchemyOutbox):
    # positions follow commit order without gaps, on PostgreSQL too, where a sequence would hand
    # them out at insert. (SQLite keeps the AUTOINCREMENT of the table's first version.)
    Column("position", Id, primary_key=True, autoincrement=False),
    Column("name", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

# An Idempotency-Key's record is written in the transaction that registers its user, so it always
# names one (registrations claim nothing ahead of time).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("email_canonical", String(320), nullable=False),
    Column("user_id", Id, nullable=False),
)

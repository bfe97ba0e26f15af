"""The write store's first schema: users, the outbox, Idempotency-Key records.

Revision ID: write_0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "write_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The types as they were at this revision (a revision never follows later changes to the tables).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the tables that are missing.

    Stores made before there were migrations (``metadata.create_all``) already have these very
    tables: this revision adopts them as they are.
    """
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "users" not in existing:
        op.create_table(
            "users",
            sa.Column("id", ID, primary_key=True, autoincrement=True),
            sa.Column("email", sa.String(320), nullable=False),
            sa.Column("email_canonical", sa.String(320), nullable=False, unique=True),
            sa.Column("password_hash", sa.String(255), nullable=False),
            sa.Column("created_at", UTC_TIME, nullable=False),
            sqlite_autoincrement=True,
        )
    if "outbox" not in existing:
        op.create_table(
            "outbox",
            sa.Column("position", ID, primary_key=True, autoincrement=False),
            sa.Column("name", sa.String(64), nullable=False),
            sa.Column("payload", sa.Text(), nullable=False),
            sa.Column("recorded_at", UTC_TIME, nullable=False),
            sqlite_autoincrement=True,
        )
    if "idempotency_keys" not in existing:
        op.create_table(
            "idempotency_keys",
            sa.Column("key", sa.String(255), primary_key=True),
            sa.Column("email_canonical", sa.String(320), nullable=False),
            sa.Column("owner", sa.String(128), nullable=False),
            sa.Column("expires_at", UTC_TIME, nullable=False),
            sa.Column("user_id", ID, nullable=True),
        )


def downgrade() -> None:
    """Drop the tables."""
    for table in ("idempotency_keys", "outbox", "users"):
        op.drop_table(table)

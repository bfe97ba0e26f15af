"""Idempotency-Key records without claims: every record names the user its request registered.

Registrations no longer reserve a key before hashing; the key's record is written with the user.
Unfinished claims (no user) are dropped with the columns that only claims used.

Revision ID: write_0002
Revises: write_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "write_0002"
down_revision: str | Sequence[str] | None = "write_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Drop unfinished claims, their owner and expiry; a record's user becomes mandatory."""
    op.execute(sa.text("DELETE FROM idempotency_keys WHERE user_id IS NULL"))
    # SQLite cannot drop a column or change its nullability in place: batch mode copies the table.
    with op.batch_alter_table("idempotency_keys") as table:
        table.drop_column("owner")
        table.drop_column("expires_at")
        table.alter_column("user_id", existing_type=ID, nullable=False)


def downgrade() -> None:
    """Bring the claim columns back (every record a finished one, expired at once)."""
    with op.batch_alter_table("idempotency_keys") as table:
        table.add_column(sa.Column("owner", sa.String(128), nullable=False, server_default="migrated"))
        table.add_column(
            sa.Column("expires_at", UTC_TIME, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP"))
        )
        table.alter_column("user_id", existing_type=ID, nullable=True)

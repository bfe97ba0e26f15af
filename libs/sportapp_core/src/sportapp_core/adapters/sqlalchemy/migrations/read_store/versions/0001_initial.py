"""The read model's first schema: the user views and the projection's stored position.

Revision ID: read_0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "read_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The types as they were at this revision (a revision never follows later changes to the tables).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)
USERS_PROJECTION = "users"


def upgrade() -> None:
    """Create the tables that are missing, and the users projection's position at 0 if it has none.

    Read models made before there were migrations (``metadata.create_all``) already have these
    very tables, and the position row: this revision adopts them as they are.
    """
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "user_views" not in existing:
        op.create_table(
            "user_views",
            sa.Column("id", ID, primary_key=True, autoincrement=False),
            sa.Column("email", sa.String(320), nullable=False),
            sa.Column("email_canonical", sa.String(320), nullable=False, unique=True),
            sa.Column("created_at", UTC_TIME, nullable=False),
            sa.Column("projected_at", UTC_TIME, nullable=False),
        )
    if "projection_position" not in existing:
        op.create_table(
            "projection_position",
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("position", ID, nullable=False),
            sa.Column("updated_at", UTC_TIME, nullable=True),
            sa.Column("lag_ms", sa.Float(), nullable=True),
        )
    positions = sa.table("projection_position", sa.column("name"), sa.column("position"))
    bind = op.get_bind()
    if bind.execute(sa.select(positions.c.name).where(positions.c.name == USERS_PROJECTION)).first() is None:
        bind.execute(sa.insert(positions).values(name=USERS_PROJECTION, position=0))


def downgrade() -> None:
    """Drop the tables."""
    for table in ("projection_position", "user_views"):
        op.drop_table(table)

"""Alembic's environment of the write store."""

from sportapp_core.adapters.sqlalchemy.migrations import WRITE_STORE_SCHEMA
from sportapp_core.adapters.sqlalchemy.migrations.environment import run_migrations

run_migrations(WRITE_STORE_SCHEMA)

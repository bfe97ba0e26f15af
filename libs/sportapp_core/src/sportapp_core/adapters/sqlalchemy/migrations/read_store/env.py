"""Alembic's environment of the read store."""

from sportapp_core.adapters.sqlalchemy.migrations import READ_STORE_SCHEMA
from sportapp_core.adapters.sqlalchemy.migrations.environment import run_migrations

run_migrations(READ_STORE_SCHEMA)

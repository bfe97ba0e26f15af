"""What each store's ``env.py`` runs: its migrations, on the connection that ``upgrade_schema`` opened."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from sportapp_core.adapters.sqlalchemy.migrations import StoreSchema


def run_migrations(schema: StoreSchema) -> None:
    """Run the migrations of ``schema`` (or compare it with the store) on the given connection.

    Inside the caller's transaction when there is one: then the caller commits, and holds its lock
    until it does.
    """
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("give the migrations a connection: alembic_config(schema, connection)")
    context.configure(
        connection=connection,
        target_metadata=schema.metadata,
        version_table=schema.version_table,
        include_name=lambda name, type_, _parents: type_ != "table" or schema.includes_table(str(name)),
        # SQLite alters a table by copying it: Alembic's batch mode does that.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()

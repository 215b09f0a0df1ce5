"""Alembic environment: runs on the connection that :class:`Database` passes in."""

from alembic import context

from alignops.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()

"""The state database: schema, migrations, connections (SQLite by default)."""

from alignops.store.db import Database, default_database_url

__all__ = ["Database", "default_database_url"]

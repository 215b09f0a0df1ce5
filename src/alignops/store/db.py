"""Connections to the state database, migrated to the current schema on open.

The URL comes from ``--db``, else ``ALIGNOPS_DATABASE_URL``, else a SQLite file at
``.alignops/state.db`` in the config repository (git-ignored). PostgreSQL works with a
``postgresql+psycopg://`` URL. SQLite writers take the lock at ``BEGIN`` (``BEGIN
IMMEDIATE``) so read-modify-write sequences such as appending to the audit chain are
serialized across processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from alignops.errors import AuditError, UsageError
from alignops.store.schema import SCHEMA_REVISION

__all__ = ["Database", "default_database_url"]

_MIGRATIONS = "alignops.store:migrations"


def default_database_url(repo_root: Path | None) -> str:
    url = os.environ.get("ALIGNOPS_DATABASE_URL")
    if url:
        return url
    base = repo_root if repo_root is not None else Path.cwd()
    return f"sqlite:///{(base / '.alignops' / 'state.db').resolve()}"


def _sqlite_serialized(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
    return None if row is None else str(row[0])


class Database:
    """A migrated state database."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise UsageError(f"not a database URL: {url!r}") from None
        self.url = parsed.render_as_string(hide_password=True)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            try:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise AuditError(f"cannot open state database {self.url}: {exc}") from None
        try:
            self.engine = create_engine(parsed)
        except (ArgumentError, ImportError) as exc:
            raise UsageError(f"cannot use database {self.url}: {exc}") from None
        if parsed.get_backend_name() == "sqlite":
            _sqlite_serialized(self.engine)
        self._migrate()

    def _migrate(self) -> None:
        """Upgrade to the newest schema. Alembic (slow to import) loads only when the
        recorded revision is not already :data:`SCHEMA_REVISION`."""
        try:
            with self.engine.begin() as connection:
                if _current_revision(connection) == SCHEMA_REVISION:
                    return
                from alembic import command
                from alembic.config import Config

                config = Config()
                config.set_main_option("script_location", _MIGRATIONS)
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise AuditError(f"cannot open state database {self.url}: {exc}") from None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise AuditError(f"state database {self.url}: {exc}") from None

    def close(self) -> None:
        self.engine.dispose()

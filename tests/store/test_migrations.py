"""The state database migrates on open, and the schema in code matches the migrations."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from alignops.store import Database
from alignops.store.schema import SCHEMA_REVISION, metadata


def test_schema_revision_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", "alignops.store:migrations")
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_REVISION


def test_new_database_is_migrated_and_matches_the_tables_in_code(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'new' / 'state.db'}")
    with db.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert set(metadata.tables) <= tables
        for name, table in metadata.tables.items():
            columns = {c["name"] for c in inspect(conn).get_columns(name)}
            assert columns == set(table.columns.keys())
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == SCHEMA_REVISION
    Database(str(db.engine.url))  # opening again is a no-op

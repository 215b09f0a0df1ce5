"""Migration 0004 adds the cost tables to a database that already has records."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text

from alignops.store import Database
from alignops.store.schema import cost_records, metered_segments
from tests.metering.conftest import NOON, World


def _alembic(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", "alignops.store:migrations")
    config.attributes["connection"] = connection
    return config


def test_a_database_at_0003_upgrades_keeps_its_records_and_meters(
    world: World, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'old' / 'state.db'}"
    (tmp_path / "old").mkdir()
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(_alembic(conn), "0003")
        conn.execute(
            text(
                "INSERT INTO usage_records (recorded_at, source, model, activity, detail, "
                "revision, cpu_seconds, wall_seconds, quantity, attributes) VALUES "
                "('2026-11-01T00:00:00+00:00', 'evidence', 'fraud-v1', 'fairness', "
                "'BiasDetection', 'abc', 1.5, 2.0, 100, '{}')"
            )
        )
        assert not inspect(conn).has_table("cost_records")
    engine.dispose()

    world.db.close()
    world.db = Database(url)  # opening migrates to the newest schema
    with world.db.engine.connect() as conn:
        for table in (cost_records, metered_segments):
            columns = {c["name"] for c in inspect(conn).get_columns(table.name)}
            assert columns == set(table.columns.keys())
        assert conn.execute(text("SELECT model, cpu_seconds FROM usage_records")).one() == (
            "fraud-v1",
            1.5,
        )
    world.segment(world.repo.git.head(), [(NOON, 1000)])
    assert world.meter().records == 2
    assert Decimal(world.record("gb-second")["BilledCost"]) == Decimal("0.025")


def test_0004_downgrades_to_0003(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    with db.engine.begin() as conn:
        command.downgrade(_alembic(conn), "0003")
        tables = set(inspect(conn).get_table_names())
    assert "services" in tables
    assert not {"cost_records", "metered_segments"} & tables
    db.close()

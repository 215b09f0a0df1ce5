"""Tables of the state database (SQLAlchemy Core). Changes go through a migration."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, Text

__all__ = [
    "SCHEMA_REVISION",
    "audit_head",
    "audit_records",
    "metadata",
    "services",
    "usage_records",
]

SCHEMA_REVISION = "0003"
"""The newest migration; a test keeps it equal to Alembic's head."""

metadata = MetaData()

audit_records = Table(
    "audit_records",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("recorded_at", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False, index=True),
    Column("subject", String(500), nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

usage_records = Table(
    "usage_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recorded_at", String(40), nullable=False),
    Column("source", String(40), nullable=False),
    Column("model", String(253), nullable=True, index=True),
    Column("activity", String(60), nullable=False),
    Column("detail", String(200), nullable=False),
    Column("revision", String(64), nullable=False),
    Column("cpu_seconds", Float, nullable=False),
    Column("wall_seconds", Float, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("attributes", Text, nullable=False),
)

services = Table(
    "services",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("instance", String(32), nullable=False, unique=True),
    Column("provider", String(40), nullable=False),
    Column("target", String(253), nullable=False),
    Column("environment", String(253), nullable=False),
    Column("name", String(300), nullable=False),
    Column("host", String(255), nullable=False),
    Column("state", String(20), nullable=False),
    Column("pid", Integer, nullable=True),
    Column("process_start", String(40), nullable=True),
    Column("port", Integer, nullable=False),
    Column("url", String(300), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("revision", String(64), nullable=False),
    Column("settings", Text, nullable=False),
    Column("spec_path", Text, nullable=False),
    Column("started_at", String(40), nullable=False),
    Index("ix_services_environment_name", "environment", "name"),
)
"""Service instances a provider started (the ``local`` provider: one row per process)."""

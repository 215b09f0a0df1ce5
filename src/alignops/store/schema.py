"""Tables of the state database (SQLAlchemy Core). Changes go through a migration."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, MetaData, String, Table, Text

__all__ = [
    "SCHEMA_REVISION",
    "alerts",
    "audit_head",
    "audit_records",
    "cost_records",
    "metadata",
    "metered_segments",
    "monitor_windows",
    "monitored_segments",
    "notifications",
    "services",
    "silences",
    "usage_records",
]

SCHEMA_REVISION = "0005"
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

_MONEY = 80  # decimals are kept as exact text ("0.0000083333500"), never as floats

cost_records = Table(
    "cost_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("BilledCost", String(_MONEY), nullable=False),
    Column("EffectiveCost", String(_MONEY), nullable=False),
    Column("ListCost", String(_MONEY), nullable=False),
    Column("ContractedCost", String(_MONEY), nullable=False),
    Column("BillingCurrency", String(3), nullable=False),
    Column("BillingAccountId", String(253), nullable=False),
    Column("BillingAccountName", String(253), nullable=False),
    Column("BillingPeriodStart", String(40), nullable=False),
    Column("BillingPeriodEnd", String(40), nullable=False),
    Column("ChargePeriodStart", String(40), nullable=False),
    Column("ChargePeriodEnd", String(40), nullable=False),
    Column("ChargeCategory", String(20), nullable=False),
    Column("ChargeClass", String(20), nullable=True),
    Column("ChargeDescription", String(500), nullable=False),
    Column("ChargeFrequency", String(20), nullable=False),
    Column("ConsumedQuantity", String(_MONEY), nullable=False),
    Column("ConsumedUnit", String(40), nullable=False),
    Column("PricingQuantity", String(_MONEY), nullable=False),
    Column("PricingUnit", String(40), nullable=False),
    Column("PricingCategory", String(20), nullable=False),
    Column("ListUnitPrice", String(_MONEY), nullable=False),
    Column("ContractedUnitPrice", String(_MONEY), nullable=False),
    Column("InvoiceIssuerName", String(100), nullable=False),
    Column("ProviderName", String(100), nullable=False),
    Column("PublisherName", String(100), nullable=False),
    Column("ServiceProviderName", String(100), nullable=False),
    Column("HostProviderName", String(100), nullable=False),
    Column("ServiceCategory", String(60), nullable=False),
    Column("ServiceName", String(100), nullable=False),
    Column("ResourceId", String(300), nullable=False),
    Column("ResourceName", String(253), nullable=False),
    Column("ResourceType", String(40), nullable=False),
    Column("SkuId", String(40), nullable=False),
    Column("SkuPriceId", String(300), nullable=True),
    Column("Tags", Text, nullable=True),
    Column("x_Environment", String(253), nullable=False),
    Column("x_Revision", String(64), nullable=False),
    Column("x_Model", String(253), nullable=True),
    Column("x_ModelVersion", String(100), nullable=True),
    Column("x_Target", String(253), nullable=True),
    Column("x_PriceList", String(253), nullable=True),
    Column("x_Activity", String(60), nullable=False),
    Column("x_BilledMs", BigInteger, nullable=True),
    Column("x_PricingNote", String(500), nullable=True),
    Index(
        "ix_cost_records_charge",
        "ResourceId",
        "x_Environment",
        "x_Revision",
        "x_Model",
        "ChargePeriodStart",
        "SkuId",
        unique=True,
    ),
)
"""Metered usage priced as FOCUS rows (column names as FOCUS spells them; ``x_``: ours).
One row per deployment, environment, revision, model, hour and SKU (decision 0025)."""

metered_segments = Table(
    "metered_segments",
    metadata,
    Column("machine", String(255), primary_key=True),
    Column("segment", String(500), primary_key=True),
    Column("bytes", BigInteger, primary_key=True, autoincrement=False),
    Column("rows", Integer, nullable=False),
    Column("metered_at", String(40), nullable=False),
)
"""Telemetry segments already counted in ``cost_records``: a segment is its path below
the telemetry folder and its size, on one machine."""

monitor_windows = Table(
    "monitor_windows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("environment", String(253), nullable=False),
    Column("deployment", String(253), nullable=False),
    Column("revision", String(64), nullable=False),
    Column("window_start", String(40), nullable=False),
    Column("window_seconds", Integer, nullable=False),
    Column("requests", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("cold_starts", BigInteger, nullable=False),
    Column("cold_start_ms", Float, nullable=False),
    Column("counts", Text, nullable=False),
    Column("updated_at", String(40), nullable=False),
    Index(
        "ix_monitor_windows_key",
        "environment",
        "deployment",
        "revision",
        "window_seconds",
        "window_start",
        unique=True,
    ),
)
"""Telemetry aggregated per deployment, revision and time window. ``counts`` is JSON of
mergeable counts (latency histogram, feature bins, selections by group): a window
updated with new segments adds counts, it never re-reads earlier ones."""

monitored_segments = Table(
    "monitored_segments",
    metadata,
    Column("machine", String(255), primary_key=True),
    Column("segment", String(500), primary_key=True),
    Column("bytes", BigInteger, primary_key=True, autoincrement=False),
    Column("rows", Integer, nullable=False),
    Column("monitored_at", String(40), nullable=False),
)
"""Telemetry segments already added into ``monitor_windows`` (as ``metered_segments``)."""

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(600), nullable=False, index=True),
    Column("rule", String(253), nullable=False),
    Column("environment", String(253), nullable=False),
    Column("deployment", String(253), nullable=False),
    Column("revision", String(64), nullable=False),
    Column("metric", String(60), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("state", String(20), nullable=False, index=True),
    Column("opened_at", String(40), nullable=False),
    Column("resolved_at", String(40), nullable=True),
    Column("first_window", String(40), nullable=False),
    Column("last_window", String(40), nullable=False),
    Column("acked_by", String(253), nullable=True),
    Column("acked_at", String(40), nullable=True),
    Column("summary", String(1000), nullable=False),
    Column("details", Text, nullable=False),
    Column("remediation", Text, nullable=True),
)
"""Alerts: one open (``firing``) alert per fingerprint (rule, environment, deployment)
at a time; ``details`` is JSON (values per window, every drifted feature)."""

silences = Table(
    "silences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("matchers", Text, nullable=False),
    Column("starts_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
    Column("created_by", String(253), nullable=False),
    Column("comment", String(1000), nullable=False),
    Column("created_at", String(40), nullable=False),
)
"""Silences: alerts whose labels match every matcher (JSON object) notify nobody until
``expires_at``."""

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("route", String(253), nullable=False),
    Column("target", String(500), nullable=False),
    Column("dedup_key", String(600), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", String(40), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("sent_at", String(40), nullable=True),
    Column("last_error", String(1000), nullable=True),
    Index("ix_notifications_dedup", "route", "dedup_key", unique=True),
    Index("ix_notifications_due", "status", "next_attempt_at"),
)
"""The outbox: a notification is written before it is sent, once per route and
``dedup_key``; ``payload`` holds no secret (the route's secret is resolved at send time)."""

"""Monitoring: telemetry windows and the segments read into them; alerts, silences; the
notification outbox shared by alerts and budgets.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_NAME = 253
_TIME = 40


def upgrade() -> None:
    op.create_table(
        "monitor_windows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("environment", sa.String(_NAME), nullable=False),
        sa.Column("deployment", sa.String(_NAME), nullable=False),
        sa.Column("revision", sa.String(64), nullable=False),
        sa.Column("window_start", sa.String(_TIME), nullable=False),
        sa.Column("window_seconds", sa.Integer, nullable=False),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("errors", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("cold_starts", sa.BigInteger, nullable=False),
        sa.Column("cold_start_ms", sa.Float, nullable=False),
        sa.Column("counts", sa.Text, nullable=False),
        sa.Column("updated_at", sa.String(_TIME), nullable=False),
    )
    op.create_index(
        "ix_monitor_windows_key",
        "monitor_windows",
        ["environment", "deployment", "revision", "window_seconds", "window_start"],
        unique=True,
    )
    op.create_table(
        "monitored_segments",
        sa.Column("machine", sa.String(255), primary_key=True),
        sa.Column("segment", sa.String(500), primary_key=True),
        sa.Column("bytes", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("monitored_at", sa.String(_TIME), nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(600), nullable=False, index=True),
        sa.Column("rule", sa.String(_NAME), nullable=False),
        sa.Column("environment", sa.String(_NAME), nullable=False),
        sa.Column("deployment", sa.String(_NAME), nullable=False),
        sa.Column("revision", sa.String(64), nullable=False),
        sa.Column("metric", sa.String(60), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("state", sa.String(20), nullable=False, index=True),
        sa.Column("opened_at", sa.String(_TIME), nullable=False),
        sa.Column("resolved_at", sa.String(_TIME), nullable=True),
        sa.Column("first_window", sa.String(_TIME), nullable=False),
        sa.Column("last_window", sa.String(_TIME), nullable=False),
        sa.Column("acked_by", sa.String(_NAME), nullable=True),
        sa.Column("acked_at", sa.String(_TIME), nullable=True),
        sa.Column("summary", sa.String(1000), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("remediation", sa.Text, nullable=True),
    )
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("matchers", sa.Text, nullable=False),
        sa.Column("starts_at", sa.String(_TIME), nullable=False),
        sa.Column("expires_at", sa.String(_TIME), nullable=False),
        sa.Column("created_by", sa.String(_NAME), nullable=False),
        sa.Column("comment", sa.String(1000), nullable=False),
        sa.Column("created_at", sa.String(_TIME), nullable=False),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("route", sa.String(_NAME), nullable=False),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("dedup_key", sa.String(600), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.String(_TIME), nullable=False),
        sa.Column("created_at", sa.String(_TIME), nullable=False),
        sa.Column("sent_at", sa.String(_TIME), nullable=True),
        sa.Column("last_error", sa.String(1000), nullable=True),
    )
    op.create_index("ix_notifications_dedup", "notifications", ["route", "dedup_key"], unique=True)
    op.create_index("ix_notifications_due", "notifications", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_due", "notifications")
    op.drop_index("ix_notifications_dedup", "notifications")
    op.drop_table("notifications")
    op.drop_table("silences")
    op.drop_table("alerts")
    op.drop_table("monitored_segments")
    op.drop_index("ix_monitor_windows_key", "monitor_windows")
    op.drop_table("monitor_windows")

"""Usage records: metered compute of evidence jobs (and later the runtime).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("model", sa.String(253), nullable=True),
        sa.Column("activity", sa.String(60), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("revision", sa.String(64), nullable=False),
        sa.Column("cpu_seconds", sa.Float, nullable=False),
        sa.Column("wall_seconds", sa.Float, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
    )
    op.create_index("ix_usage_records_model", "usage_records", ["model"])


def downgrade() -> None:
    op.drop_index("ix_usage_records_model", "usage_records")
    op.drop_table("usage_records")

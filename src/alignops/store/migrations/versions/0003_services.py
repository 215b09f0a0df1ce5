"""Services: the instances a provider started (the local provider: its processes).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("instance", sa.String(32), nullable=False, unique=True),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("target", sa.String(253), nullable=False),
        sa.Column("environment", sa.String(253), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("process_start", sa.String(40), nullable=True),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("url", sa.String(300), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("revision", sa.String(64), nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("spec_path", sa.Text, nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_services_environment_name", "services", ["environment", "name"])


def downgrade() -> None:
    op.drop_index("ix_services_environment_name", "services")
    op.drop_table("services")

"""Cost records: metered runtime usage priced as FOCUS rows; the segments metered.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_MONEY = 80
_CHARGE = ["ResourceId", "x_Environment", "x_Revision", "x_Model", "ChargePeriodStart", "SkuId"]


def upgrade() -> None:
    op.create_table(
        "cost_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("BilledCost", sa.String(_MONEY), nullable=False),
        sa.Column("EffectiveCost", sa.String(_MONEY), nullable=False),
        sa.Column("ListCost", sa.String(_MONEY), nullable=False),
        sa.Column("ContractedCost", sa.String(_MONEY), nullable=False),
        sa.Column("BillingCurrency", sa.String(3), nullable=False),
        sa.Column("BillingAccountId", sa.String(253), nullable=False),
        sa.Column("BillingAccountName", sa.String(253), nullable=False),
        sa.Column("BillingPeriodStart", sa.String(40), nullable=False),
        sa.Column("BillingPeriodEnd", sa.String(40), nullable=False),
        sa.Column("ChargePeriodStart", sa.String(40), nullable=False),
        sa.Column("ChargePeriodEnd", sa.String(40), nullable=False),
        sa.Column("ChargeCategory", sa.String(20), nullable=False),
        sa.Column("ChargeClass", sa.String(20), nullable=True),
        sa.Column("ChargeDescription", sa.String(500), nullable=False),
        sa.Column("ChargeFrequency", sa.String(20), nullable=False),
        sa.Column("ConsumedQuantity", sa.String(_MONEY), nullable=False),
        sa.Column("ConsumedUnit", sa.String(40), nullable=False),
        sa.Column("PricingQuantity", sa.String(_MONEY), nullable=False),
        sa.Column("PricingUnit", sa.String(40), nullable=False),
        sa.Column("PricingCategory", sa.String(20), nullable=False),
        sa.Column("ListUnitPrice", sa.String(_MONEY), nullable=False),
        sa.Column("ContractedUnitPrice", sa.String(_MONEY), nullable=False),
        sa.Column("InvoiceIssuerName", sa.String(100), nullable=False),
        sa.Column("ProviderName", sa.String(100), nullable=False),
        sa.Column("PublisherName", sa.String(100), nullable=False),
        sa.Column("ServiceProviderName", sa.String(100), nullable=False),
        sa.Column("HostProviderName", sa.String(100), nullable=False),
        sa.Column("ServiceCategory", sa.String(60), nullable=False),
        sa.Column("ServiceName", sa.String(100), nullable=False),
        sa.Column("ResourceId", sa.String(300), nullable=False),
        sa.Column("ResourceName", sa.String(253), nullable=False),
        sa.Column("ResourceType", sa.String(40), nullable=False),
        sa.Column("SkuId", sa.String(40), nullable=False),
        sa.Column("SkuPriceId", sa.String(300), nullable=True),
        sa.Column("Tags", sa.Text, nullable=True),
        sa.Column("x_Environment", sa.String(253), nullable=False),
        sa.Column("x_Revision", sa.String(64), nullable=False),
        sa.Column("x_Model", sa.String(253), nullable=True),
        sa.Column("x_ModelVersion", sa.String(100), nullable=True),
        sa.Column("x_Target", sa.String(253), nullable=True),
        sa.Column("x_PriceList", sa.String(253), nullable=True),
        sa.Column("x_Activity", sa.String(60), nullable=False),
        sa.Column("x_BilledMs", sa.BigInteger, nullable=True),
        sa.Column("x_PricingNote", sa.String(500), nullable=True),
    )
    op.create_index("ix_cost_records_charge", "cost_records", _CHARGE, unique=True)
    op.create_table(
        "metered_segments",
        sa.Column("machine", sa.String(255), primary_key=True),
        sa.Column("segment", sa.String(500), primary_key=True),
        sa.Column("bytes", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("metered_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("metered_segments")
    op.drop_index("ix_cost_records_charge", "cost_records")
    op.drop_table("cost_records")

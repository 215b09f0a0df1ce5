"""The cost ledger: one DuckDB table of charges in FOCUS shape, cloud bills and our own usage.

``charges`` holds every row of every ingested FOCUS export (1.0–1.3) and the project's
own metered usage, with the FOCUS columns alignops reads typed (money and quantities as
``DECIMAL(38, 18)``, periods as ``TIMESTAMP`` in UTC, the rest text), the file's other
columns kept in ``x_Extra`` (JSON), and ``x_`` columns of our own:

- the governed dimensions, one typed column each, read from the tags (decision 0035):
  ``x_Model``, ``x_Team``, ``x_Environment``, ``x_Activity``, ``x_CostCenter``;
- ``x_Tags``: the tags with trimmed, case-folded keys (``Tags`` keeps the original text);
- where a row came from: ``x_Source`` (``focus``, ``alignops-runtime``,
  ``alignops-evidence``), ``x_IngestId`` and ``x_RowNumber`` (the line of the file).

``ingests`` records each file read (by content digest: a file ingested twice is read
once) with its validation report.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from alignops.errors import UsageError

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "DEFAULT_LEDGER",
    "DIMENSIONS",
    "DIMENSION_COLUMNS",
    "LEDGER_COLUMNS",
    "MONEY",
    "SOURCES",
    "Ledger",
]

DEFAULT_LEDGER = ".alignops/ledger.duckdb"
"""Where the ledger lives, relative to the config repository (``finops.ledger``)."""

MONEY = "DECIMAL(38, 18)"
"""Money and quantities: exact, 20 integer digits, 18 decimals (metered prices reach
10⁻¹⁹ per request; nothing a bill holds is finer than 10⁻¹⁸ here)."""

DIMENSIONS = ("model", "team", "env", "activity", "cost_center")
"""The governed dimensions, as ``--by`` and ``Budget`` scopes name them."""

DIMENSION_COLUMNS = {
    "model": "x_Model",
    "team": "x_Team",
    "env": "x_Environment",
    "activity": "x_Activity",
    "cost_center": "x_CostCenter",
}

SOURCES = ("focus", "alignops-runtime", "alignops-evidence")

_TEXT = "VARCHAR"
_TIME = "TIMESTAMP"

LEDGER_COLUMNS: dict[str, str] = {
    "BilledCost": MONEY,
    "EffectiveCost": MONEY,
    "ListCost": MONEY,
    "ContractedCost": MONEY,
    "ConsumedQuantity": MONEY,
    "PricingQuantity": MONEY,
    "ListUnitPrice": MONEY,
    "ContractedUnitPrice": MONEY,
    "BillingCurrency": _TEXT,
    "BillingAccountId": _TEXT,
    "BillingAccountName": _TEXT,
    "SubAccountId": _TEXT,
    "SubAccountName": _TEXT,
    "BillingPeriodStart": _TIME,
    "BillingPeriodEnd": _TIME,
    "ChargePeriodStart": _TIME,
    "ChargePeriodEnd": _TIME,
    "ChargeCategory": _TEXT,
    "ChargeClass": _TEXT,
    "ChargeDescription": _TEXT,
    "ChargeFrequency": _TEXT,
    "ConsumedUnit": _TEXT,
    "PricingUnit": _TEXT,
    "PricingCategory": _TEXT,
    "InvoiceIssuerName": _TEXT,
    "ProviderName": _TEXT,
    "PublisherName": _TEXT,
    "ServiceProviderName": _TEXT,
    "HostProviderName": _TEXT,
    "ServiceCategory": _TEXT,
    "ServiceSubcategory": _TEXT,
    "ServiceName": _TEXT,
    "RegionId": _TEXT,
    "RegionName": _TEXT,
    "AvailabilityZone": _TEXT,
    "ResourceId": _TEXT,
    "ResourceName": _TEXT,
    "ResourceType": _TEXT,
    "SkuId": _TEXT,
    "SkuPriceId": _TEXT,
    "CommitmentDiscountId": _TEXT,
    "CommitmentDiscountType": _TEXT,
    "CommitmentDiscountStatus": _TEXT,
    "Tags": _TEXT,
    "x_Tags": _TEXT,
    "x_Model": _TEXT,
    "x_Team": _TEXT,
    "x_Environment": _TEXT,
    "x_Activity": _TEXT,
    "x_CostCenter": _TEXT,
    "x_ModelVersion": _TEXT,
    "x_Revision": _TEXT,
    "x_InputTokens": "BIGINT",
    "x_OutputTokens": "BIGINT",
    "x_Source": _TEXT,
    "x_FocusVersion": _TEXT,
    "x_IngestId": "BIGINT",
    "x_RowNumber": "BIGINT",
    "x_Extra": _TEXT,
}
"""Every column of ``charges``, in order, with its DuckDB type."""

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS charges (
  {", ".join(f'"{name}" {kind}' for name, kind in LEDGER_COLUMNS.items())}
);
CREATE SEQUENCE IF NOT EXISTS ingest_ids START 1;
CREATE TABLE IF NOT EXISTS ingests (
  id BIGINT PRIMARY KEY DEFAULT nextval('ingest_ids'),
  source VARCHAR NOT NULL,          -- the path as given, or 'alignops' for own usage
  digest VARCHAR NOT NULL,          -- sha256 of the file's bytes
  format VARCHAR NOT NULL,          -- csv, csv.gz, parquet, alignops
  focus_version VARCHAR,
  rows BIGINT NOT NULL,
  problems BIGINT NOT NULL,
  report VARCHAR NOT NULL,          -- the validation report, JSON
  ingested_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS budget_events (
  budget VARCHAR NOT NULL,          -- Budget name
  period_start DATE NOT NULL,       -- the budget period it belongs to
  percent DOUBLE NOT NULL,          -- the threshold crossed
  basis VARCHAR NOT NULL,           -- actual or forecast
  amount {MONEY} NOT NULL,          -- spend (or forecast) when it was crossed
  budget_amount {MONEY} NOT NULL,
  fired_at TIMESTAMP NOT NULL,
  PRIMARY KEY (budget, period_start, percent, basis)
);
CREATE TABLE IF NOT EXISTS anomaly_feedback (
  dimension VARCHAR NOT NULL,
  value VARCHAR NOT NULL,
  day DATE NOT NULL,
  verdict VARCHAR NOT NULL,         -- yes, no, planned
  note VARCHAR,
  given_at TIMESTAMP NOT NULL,
  PRIMARY KEY (dimension, value, day)
);
"""


class Ledger:
    """The ledger file; :meth:`connect` opens it (creating the tables on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def of_repository(cls, root: Path, configured: str | None) -> Ledger:
        """The ledger of a config repository (``finops.ledger`` or the default)."""
        return cls(root / (configured or DEFAULT_LEDGER))

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        import duckdb

        if read_only and not self.path.exists():
            raise UsageError(f"no cost ledger at {self.path}; run `alignops cost ingest` first")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise UsageError(f"cannot open the cost ledger {self.path}: {exc}") from None
        try:
            if not read_only:
                con.execute(_SCHEMA)
            yield con
        finally:
            con.close()

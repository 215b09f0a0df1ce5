"""Generate FOCUS 1.2 cost-and-usage exports of any size, as CSV or Parquet, for benchmarks.

All 57 FOCUS 1.2 columns, one row per resource, SKU and hour over ``days`` days (sorted
by time, as providers write them), drawn deterministically from ``seed`` with DuckDB's
``hash`` so ten million rows take seconds and the same arguments give the same bytes:

- services of an AI platform: SageMaker and Bedrock (AI and Machine Learning), EC2 and
  Lambda (Compute), S3 (Storage), RDS (Databases), CloudWatch (Management and
  Governance), data transfer (Networking); list prices per SKU, quantities log-uniform,
  effective cost 55–100 % of list (commitments and discounts);
- charges: 97 % Usage, 1 % Purchase, 1 % Tax, 1 % Credit (negative);
- tags as real accounts have them: 12 % of rows untagged, 3 % ``{}``; else a JSON
  object with ``model`` (40 models), ``team`` (12 teams, 5 % ``shared``), ``env``,
  ``activity`` (serving, training, evaluation, explainability, fairness-audit,
  drift-monitoring) on AI services, ``cost_center``, ``application``; key spellings vary
  as they do across teams (``Team``, `` team``, ``user:team``, ``Environment``);
- nulls written the way exports write them: empty in CSV, null in Parquet.

The Parquet copy is typed (money ``DECIMAL(38, 18)``, periods ``TIMESTAMP``); the CSV is
text. Used by bench/ingest_bench.py and the allocation benchmark
(``from focus_gen import write_focus``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Literal

MODELS = tuple(f"model-{i:02d}" for i in range(40))
TEAMS = (
    "fraud",
    "risk",
    "search",
    "ads",
    "vision",
    "speech",
    "platform",
    "growth",
    "support",
    "pricing",
    "security",
    "data",
)
ENVS = ("prod", "staging", "dev")
ACTIVITIES = (
    "serving",
    "training",
    "evaluation",
    "explainability",
    "fairness-audit",
    "drift-monitoring",
)
COST_CENTERS = tuple(f"cc-{i}" for i in range(100, 116))
REGIONS = (
    ("us-east-1", "US East (N. Virginia)"),
    ("us-west-2", "US West (Oregon)"),
    ("eu-west-1", "Europe (Ireland)"),
    ("eu-central-1", "Europe (Frankfurt)"),
)
# service, category, subcategory, SKU, pricing unit, list unit price, AI service?
SERVICES = (
    ("Amazon SageMaker", "AI and Machine Learning", "Machine Learning", "SM-ML-G5", "Hours",
     "1.408", True),
    ("Amazon SageMaker", "AI and Machine Learning", "Machine Learning", "SM-INF-M5", "Hours",
     "0.115", True),
    ("Amazon Bedrock", "AI and Machine Learning", "Generative AI", "BR-TOK-IN", "1K Tokens",
     "0.003", True),
    ("Amazon Bedrock", "AI and Machine Learning", "Generative AI", "BR-TOK-OUT", "1K Tokens",
     "0.015", True),
    ("Amazon Elastic Compute Cloud", "Compute", "Virtual Machines", "EC2-G5-XL", "Hours",
     "1.006", True),
    ("AWS Lambda", "Compute", "Serverless Compute", "LMB-GBS", "GB-Seconds",
     "0.0000166667", True),
    ("Amazon Simple Storage Service", "Storage", "Object Storage", "S3-STD", "GB-Mo",
     "0.023", False),
    ("Amazon Relational Database Service", "Databases", "Relational Databases", "RDS-PG-L",
     "Hours", "0.258", False),
    ("Amazon CloudWatch", "Management and Governance", "Observability", "CW-LOGS", "GB",
     "0.5", False),
    ("AWS Data Transfer", "Networking", "Network Traffic", "DT-OUT", "GB", "0.09", False),
)  # fmt: skip

FOCUS_12_COLUMNS = (
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName",
    "BillingAccountType", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart",
    "CapacityReservationId", "CapacityReservationStatus", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart",
    "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountQuantity", "CommitmentDiscountStatus", "CommitmentDiscountType",
    "CommitmentDiscountUnit", "ConsumedQuantity", "ConsumedUnit", "ContractedCost",
    "ContractedUnitPrice", "EffectiveCost", "InvoiceId", "InvoiceIssuerName", "ListCost",
    "ListUnitPrice", "PricingCategory", "PricingCurrency",
    "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice", "PricingQuantity", "PricingUnit", "ProviderName",
    "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "ServiceName", "ServiceSubcategory", "SkuId", "SkuMeter",
    "SkuPriceDetails", "SkuPriceId", "SubAccountId", "SubAccountName", "SubAccountType",
    "Tags",
)  # fmt: skip
MONEY_COLUMNS = (
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ConsumedQuantity",
    "PricingQuantity", "ListUnitPrice", "ContractedUnitPrice", "CommitmentDiscountQuantity",
    "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
)  # fmt: skip
TIME_COLUMNS = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")


def _lit(values: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: tuple[str, ...], salt: str) -> str:
    return f"{_lit(values)}[1 + (hash(i, seed, '{salt}') % {len(values)})::INTEGER]"


def focus_sql(rows: int, *, seed: int = 7, days: int = 90) -> str:
    """A SELECT of ``rows`` FOCUS 1.2 rows, every column text (null: NULL)."""
    services = "[" + ", ".join(
        "{" + f"'name': '{s[0]}', 'category': '{s[1]}', 'sub': '{s[2]}', 'sku': '{s[3]}', "
        f"'unit': '{s[4]}', 'price': {s[5]}::DECIMAL(38, 18), 'ai': {str(s[6]).lower()}" + "}"
        for s in SERVICES
    ) + "]"  # fmt: skip
    regions = "[" + ", ".join(f"{{'id': '{r}', 'name': '{n}'}}" for r, n in REGIONS) + "]"
    team_key = _pick(("team", "team", "team", "team", "team", "team", "Team", " team", "user:team", "TEAM"), "tk")  # fmt: skip
    env_key = _pick(("env", "env", "env", "Environment", "environment", "user:env"), "ek")
    model_key = _pick(("model", "model", "model", "Model", "user:model"), "mk")
    return f"""
WITH base AS (
  SELECT i, {seed} AS seed,
    {services}[1 + (hash(i, {seed}, 'svc') % {len(SERVICES)})::INTEGER] AS svc,
    {regions}[1 + (hash(i, {seed}, 'reg') % {len(REGIONS)})::INTEGER] AS reg,
    TIMESTAMP '2026-01-01' + INTERVAL 1 HOUR * ((i * {days * 24}) // {rows}) AS start,
    (hash(i, {seed}, 'cat') % 100)::INTEGER AS cat,
    (hash(i, {seed}, 'tag') % 100)::INTEGER AS tagged,
    exp(ln(0.01) + (hash(i, {seed}, 'qty') % 1000000) / 1000000.0 * ln(100000.0)) AS qty,
    0.55 + (hash(i, {seed}, 'disc') % 4500) / 10000.0 AS discount
  FROM range({rows}) t(i)
), priced AS (
  SELECT *,
    round(qty::DECIMAL(38, 18), 6) AS quantity,
    CASE WHEN cat < 97 THEN 'Usage' WHEN cat = 97 THEN 'Purchase' WHEN cat = 98 THEN 'Tax'
         ELSE 'Credit' END AS category,
    date_trunc('month', start) AS month
  FROM base
), costed AS (
  SELECT *,
    round(quantity * svc.price, 10) AS list_cost,
    round(round(quantity * svc.price, 10) * discount::DECIMAL(10, 6), 10) AS effective
  FROM priced
)
SELECT
  CASE WHEN svc.category = 'Compute' THEN reg.id || 'a' END AS "AvailabilityZone",
  (CASE WHEN category = 'Credit' THEN -list_cost ELSE list_cost END)::VARCHAR AS "BilledCost",
  '123456789012' AS "BillingAccountId",
  'AI Platform' AS "BillingAccountName",
  'Billing Account' AS "BillingAccountType",
  'USD' AS "BillingCurrency",
  strftime(month + INTERVAL 1 MONTH, '%Y-%m-%dT%H:%M:%SZ') AS "BillingPeriodEnd",
  strftime(month, '%Y-%m-%dT%H:%M:%SZ') AS "BillingPeriodStart",
  NULL::VARCHAR AS "CapacityReservationId",
  NULL::VARCHAR AS "CapacityReservationStatus",
  category AS "ChargeCategory",
  NULL::VARCHAR AS "ChargeClass",
  svc.name || ' ' || svc.sku || ' in ' || reg.name AS "ChargeDescription",
  CASE WHEN category = 'Usage' THEN 'Usage-Based' WHEN category = 'Purchase' THEN 'One-Time'
       ELSE 'Recurring' END AS "ChargeFrequency",
  strftime(start + INTERVAL 1 HOUR, '%Y-%m-%dT%H:%M:%SZ') AS "ChargePeriodEnd",
  strftime(start, '%Y-%m-%dT%H:%M:%SZ') AS "ChargePeriodStart",
  CASE WHEN discount < 0.7 THEN 'Spend' END AS "CommitmentDiscountCategory",
  CASE WHEN discount < 0.7 THEN 'arn:aws:savingsplans::123456789012:sp/' || (i % 7) END
    AS "CommitmentDiscountId",
  CASE WHEN discount < 0.7 THEN 'compute-sp-' || (i % 7) END AS "CommitmentDiscountName",
  CASE WHEN discount < 0.7 THEN effective::VARCHAR END AS "CommitmentDiscountQuantity",
  CASE WHEN discount < 0.7 THEN 'Used' END AS "CommitmentDiscountStatus",
  CASE WHEN discount < 0.7 THEN 'Savings Plan' END AS "CommitmentDiscountType",
  CASE WHEN discount < 0.7 THEN 'USD' END AS "CommitmentDiscountUnit",
  quantity::VARCHAR AS "ConsumedQuantity",
  svc.unit AS "ConsumedUnit",
  effective::VARCHAR AS "ContractedCost",
  round(svc.price * discount::DECIMAL(10, 6), 10)::VARCHAR AS "ContractedUnitPrice",
  (CASE WHEN category = 'Credit' THEN -effective ELSE effective END)::VARCHAR
    AS "EffectiveCost",
  'INV-' || strftime(month, '%Y%m') AS "InvoiceId",
  'Amazon Web Services, Inc.' AS "InvoiceIssuerName",
  list_cost::VARCHAR AS "ListCost",
  svc.price::DOUBLE::VARCHAR AS "ListUnitPrice",
  CASE WHEN discount < 0.7 THEN 'Committed' ELSE 'Standard' END AS "PricingCategory",
  'USD' AS "PricingCurrency",
  round(svc.price * discount::DECIMAL(10, 6), 10)::VARCHAR
    AS "PricingCurrencyContractedUnitPrice",
  effective::VARCHAR AS "PricingCurrencyEffectiveCost",
  svc.price::DOUBLE::VARCHAR AS "PricingCurrencyListUnitPrice",
  quantity::VARCHAR AS "PricingQuantity",
  svc.unit AS "PricingUnit",
  'AWS' AS "ProviderName",
  'Amazon Web Services, Inc.' AS "PublisherName",
  reg.id AS "RegionId",
  reg.name AS "RegionName",
  'arn:aws:' || lower(replace(svc.sku, '-', ':')) || ':' || reg.id || ':123456789012:'
    || {_pick(MODELS, "res")} || '/' || (hash(i, seed, 'inst') % 50) AS "ResourceId",
  {_pick(MODELS, "res")} || '-' || (hash(i, seed, 'inst') % 50) AS "ResourceName",
  svc.sub AS "ResourceType",
  svc.category AS "ServiceCategory",
  svc.name AS "ServiceName",
  svc.sub AS "ServiceSubcategory",
  svc.sku AS "SkuId",
  svc.sku || '-meter' AS "SkuMeter",
  '{{"tier": "' || (1 + hash(i, seed, 'tier') % 3) || '"}}' AS "SkuPriceDetails",
  svc.sku || '.' || reg.id || '.OnDemand' AS "SkuPriceId",
  (100000000000 + hash(i, seed, 'sub') % 20)::VARCHAR AS "SubAccountId",
  'ml-account-' || (hash(i, seed, 'sub') % 20) AS "SubAccountName",
  'AWS Account' AS "SubAccountType",
  CASE
    WHEN tagged < 12 THEN NULL
    WHEN tagged < 15 THEN '{{}}'
    ELSE to_json(map_from_entries(list_filter([
      {{'k': {model_key}, 'v': {_pick(MODELS, "res")}}},
      {{'k': {team_key}, 'v': CASE WHEN tagged < 20 THEN 'shared'
                                   ELSE {_pick(TEAMS, "team")} END}},
      {{'k': {env_key}, 'v': {_pick(ENVS, "env")}}},
      {{'k': 'activity', 'v': CASE WHEN svc.ai THEN {_pick(ACTIVITIES, "act")} END}},
      {{'k': 'cost_center', 'v': {_pick(COST_CENTERS, "cc")}}},
      {{'k': 'application', 'v': 'app-' || (hash(i, seed, 'app') % 30)}}
    ], lambda e: e.v IS NOT NULL)))::VARCHAR
  END AS "Tags"
FROM costed
"""


def write_focus(
    path: Path, rows: int, *, fmt: Literal["csv", "parquet"] = "csv", seed: int = 7, days: int = 90
) -> Path:
    """Write ``rows`` FOCUS 1.2 rows to ``path`` (CSV: text, header, empty = null;
    Parquet: typed money and periods, zstd). Returns ``path``."""
    import duckdb

    select = focus_sql(rows, seed=seed, days=days)
    if fmt == "parquet":
        casts = [f'CAST("{c}" AS DECIMAL(38, 18)) AS "{c}"' for c in MONEY_COLUMNS]
        casts += [f'CAST("{c}" AS TIMESTAMP) AS "{c}"' for c in TIME_COLUMNS]
        select = f"SELECT * REPLACE ({', '.join(casts)}) FROM ({select})"
        options = "FORMAT parquet, COMPRESSION zstd"
    else:
        options = "FORMAT csv, HEADER true"
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        target = str(path).replace("'", "''")
        con.execute(f"COPY ({select}) TO '{target}' ({options})")
    finally:
        con.close()
    return path


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    started = time.perf_counter()
    out = write_focus(Path(sys.argv[2] if len(sys.argv) > 2 else "focus.csv"), count)
    print(f"{count:,} rows → {out} in {time.perf_counter() - started:.1f} s")

"""``alignops cost usage`` meters what is new and prints usage and cost per deployment;
``alignops cost export`` writes FOCUS rows that reload with pyarrow."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.metering.conftest import HOUR, MINUTE, NOON, World

# FOCUS 1.2's mandatory columns, and 1.3's provider columns (docs: FOCUS specification).
FOCUS_MANDATORY = {
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "PricingQuantity",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "InvoiceIssuerName",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
    "PricingUnit",
    "ServiceProviderName",
    "HostProviderName",
}
FOCUS_CONDITIONAL = {
    "ChargeFrequency",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedUnitPrice",
    "ListUnitPrice",
    "PricingCategory",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "SkuId",
    "SkuPriceId",
    "Tags",
}


@pytest.fixture
def used(world: World) -> World:
    """Two revisions of fraud-api used in two hours, and production usage unpriced."""
    first = world.repo.git.head()
    world.segment(first, [(NOON, 1000), (NOON + MINUTE, 1000)])  # 4 GB-s, 2 requests
    second = world.configure(production_target="bare", message="production on bare")
    world.segment(second, [(NOON + HOUR, 4000)])  # 8 GB-s, 1 request
    world.segment(second, [(NOON + HOUR, 1000)], environment="production")
    return world


def _json(run: Any) -> dict[str, Any]:
    assert run.exit_code == 0, run.stderr
    return dict(json.loads(run.stdout))


def test_usage_meters_then_prints_usage_and_cost_per_deployment(used: World, cli: Any) -> None:
    run = cli("cost", "usage", "--repo", str(used.repo.path))
    assert run.exit_code == 0, run.stderr
    assert "metered 3 new telemetry segments: 4 requests (4 billed) → 6 cost records" in (
        run.stderr
    )
    lines = run.stdout.splitlines()
    (staging,) = [line for line in lines if "staging" in line]
    # 12 GB-s × 0.0125 + 3 × 0.05 = EUR 0.30
    assert staging.split() == [
        "fraud-api", "staging", "3", "12.000000", "0.300000", "EUR"
    ]  # fmt: skip
    (production,) = [line for line in lines if "production" in line]
    assert production.split()[2:] == ["1", "2.000000", "not", "priced", "*"]
    assert "total: 4 requests · 14.000000 GB-seconds · 0.300000 EUR" in run.stdout
    assert "* not priced: target 'bare' has no price list at revision" in run.stdout

    again = cli("cost", "usage", "--repo", str(used.repo.path))
    assert "metered" not in again.stderr  # nothing new: nothing counted twice
    assert "total: 4 requests · 14.000000 GB-seconds · 0.300000 EUR" in again.stdout


def test_usage_by_revision_and_hour_with_filters_as_json(used: World, cli: Any) -> None:
    repo = str(used.repo.path)
    document = _json(cli("cost", "usage", "--by", "revision", "--env", "staging", "-o", "json",
                         "--repo", repo))  # fmt: skip
    assert document["metered"]["segments"] == 3
    revisions = [(line["revision"], line["requests"], Decimal(line["cost"]))
                 for line in document["lines"]]  # fmt: skip
    first, second = str(used.repo.git.resolve("HEAD~1").id), used.repo.git.head()
    # first: 4 GB-s × 0.0125 + 2 × 0.05; second: 8 GB-s × 0.0125 + 1 × 0.05
    assert revisions == [(first, 2, Decimal("0.15")), (second, 1, Decimal("0.15"))]
    totals = document["totals"]
    assert (totals["requests"], Decimal(totals["gbSeconds"])) == (3, 12)
    (cost,) = totals["cost"]
    assert (cost["currency"], Decimal(cost["amount"])) == ("EUR", Decimal("0.30"))

    hours = _json(cli("cost", "usage", "--by", "hour", "--since", "2026-11-23T13:00", "-o",
                      "json", "--repo", repo))  # fmt: skip
    assert {(line["environment"], line["hour"]) for line in hours["lines"]} == {
        ("staging", "2026-11-23T13:00:00Z"),
        ("production", "2026-11-23T13:00:00Z"),
    }
    assert hours["metered"]["segments"] == 0

    nothing = cli("cost", "usage", "--env", "stagin", "--repo", repo)
    assert nothing.exit_code == 0 and "no metered usage in environment 'stagin'" in nothing.stdout


def test_a_bad_since_is_a_usage_error(world: World, cli: Any) -> None:
    run = cli("cost", "usage", "--since", "last week", "--repo", str(world.repo.path))
    assert run.exit_code == 2
    assert "--since: expected a date" in run.stderr


def test_export_csv_has_the_focus_columns_and_reloads_with_pyarrow(
    used: World, cli: Any, tmp_path: Path
) -> None:
    target = tmp_path / "costs.csv"
    run = cli("cost", "export", str(target), "--repo", str(used.repo.path))
    assert run.exit_code == 0, run.stderr
    assert f"wrote 6 FOCUS cost records to {target} (csv)" in run.stdout
    table = pacsv.read_csv(target)
    columns = set(table.column_names)
    assert columns >= FOCUS_MANDATORY
    assert all(c in FOCUS_CONDITIONAL or c.startswith("x_") for c in columns - FOCUS_MANDATORY)
    assert table.num_rows == 6
    costs = [Decimal(str(v)) for v in table.column("BilledCost").to_pylist()]
    assert sum(costs) == Decimal("0.30")
    assert set(table.column("ChargeCategory").to_pylist()) == {"Usage"}
    assert set(table.column("SkuId").to_pylist()) == {"gb-second", "requests"}
    tags = {json.dumps(json.loads(t), sort_keys=True) for t in table.column("Tags").to_pylist()}
    assert tags == {'{"cost-center": "cc-42", "team": "risk"}'}


def test_export_parquet_is_typed_and_sums_to_the_same_cost(
    used: World, cli: Any, tmp_path: Path
) -> None:
    target = tmp_path / "costs.parquet"
    document = _json(cli("cost", "export", str(target), "--env", "staging", "-o", "json",
                         "--repo", str(used.repo.path)))  # fmt: skip
    assert (document["format"], document["rows"]) == ("parquet", 4)
    table = pq.read_table(target)
    assert table.schema.field("BilledCost").type == pa.decimal128(38, 20)
    assert table.schema.field("ChargePeriodStart").type == pa.timestamp("us", tz="UTC")
    assert sum(table.column("BilledCost").to_pylist()) == Decimal("0.30")
    assert sum(table.column("ConsumedQuantity").to_pylist()) == Decimal(12 + 3)


def test_export_needs_a_format_it_can_tell(world: World, cli: Any, tmp_path: Path) -> None:
    run = cli("cost", "export", str(tmp_path / "costs.txt"), "--repo", str(world.repo.path))
    assert run.exit_code == 2
    assert "give --format csv or --format parquet" in run.stderr
    forced = cli("cost", "export", str(tmp_path / "costs.txt"), "--format", "csv",
                 "--repo", str(world.repo.path))  # fmt: skip
    assert forced.exit_code == 0, forced.stderr
    assert (tmp_path / "costs.txt").read_text().startswith("BilledCost,")

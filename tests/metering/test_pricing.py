"""Usage is priced from the price list of the deployment's target at the revision that
ran: GB-seconds × gbSecond + requests / 1e6 × perMillionRequests, exactly."""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from alignops.errors import ManifestError, SourceError
from tests.metering.conftest import HOUR, MINUTE, NOON, World


def _money(record: dict[str, object]) -> Decimal:
    return Decimal(str(record["BilledCost"]))


def test_cost_is_gb_seconds_times_price_plus_requests_per_million(world: World) -> None:
    revision = world.repo.git.head()
    world.segment(
        revision,
        [
            (NOON + 1 * MINUTE, 1000),
            (NOON + 2 * MINUTE, 2000),
            (NOON + 30 * MINUTE, 3000),
            (NOON + 59 * MINUTE, 4000),
            (NOON + HOUR + 5 * MINUTE, 500),
            (NOON + HOUR + 6 * MINUTE, 1500),
        ],
        refused=3,  # 429s: in the telemetry, not billed
    )
    result = world.meter()
    assert (result.segments, result.rows, result.requests, result.records) == (1, 9, 6, 4)
    assert result.unpriced == () and result.unreadable == ()

    # By hand, 12:00–13:00: 2048 MB × (1 + 2 + 3 + 4) s = 2 GB × 10 s = 20 GB-s
    # → 20 × 0.0125 = EUR 0.25; 4 requests × 50,000 / 1e6 = EUR 0.20.
    gb = world.record("gb-second")
    assert Decimal(gb["ConsumedQuantity"]) == Decimal("20")
    assert Decimal(gb["ListUnitPrice"]) == Decimal("0.0125")
    assert _money(gb) == Decimal("0.25")
    requests = world.record("requests")
    assert Decimal(requests["ConsumedQuantity"]) == 4
    assert Decimal(requests["ListUnitPrice"]) == Decimal("0.05")
    assert _money(requests) == Decimal("0.20")
    # 13:00–14:00: 2 GB × 2 s = 4 GB-s → 0.05; 2 requests → 0.10.
    assert _money(world.record("gb-second", "2026-11-23T13:00:00Z")) == Decimal("0.05")
    assert _money(world.record("requests", "2026-11-23T13:00:00Z")) == Decimal("0.10")
    assert sum(_money(r) for r in world.records()) == Decimal("0.60")

    # FOCUS shape: list = billed = effective = contracted (no discounts), hourly periods
    # with an exclusive end, the month as billing period, labels as Tags.
    assert {gb[c] for c in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")} == {
        gb["BilledCost"]
    }
    assert gb["ChargePeriodStart"] == "2026-11-23T12:00:00Z"
    assert gb["ChargePeriodEnd"] == "2026-11-23T13:00:00Z"
    assert (gb["BillingPeriodStart"], gb["BillingPeriodEnd"]) == (
        "2026-11-01T00:00:00Z",
        "2026-12-01T00:00:00Z",
    )
    assert (gb["ChargeCategory"], gb["ServiceCategory"], gb["BillingCurrency"]) == (
        "Usage",
        "AI and Machine Learning",
        "EUR",
    )
    assert (gb["ProviderName"], gb["ServiceProviderName"]) == ("alignops", "alignops")
    assert (gb["ResourceId"], gb["ResourceName"], gb["ResourceType"]) == (
        "ModelDeployment/fraud-api",
        "fraud-api",
        "ModelDeployment",
    )
    assert (gb["ConsumedUnit"], requests["ConsumedUnit"]) == ("GB-Seconds", "Requests")
    assert json.loads(gb["Tags"]) == {"team": "risk", "cost-center": "cc-42"}
    assert (gb["x_Environment"], gb["x_Revision"], gb["x_Model"], gb["x_ModelVersion"]) == (
        "staging",
        revision,
        "fraud-v1",
        "1.2.0",
    )
    assert (gb["x_Target"], gb["x_PriceList"], gb["x_BilledMs"]) == ("local", "test-prices", 10000)
    assert gb["x_PricingNote"] is None


def test_money_is_exact_not_floating_point(world: World) -> None:
    revision = world.configure(price_list="lambda-like")
    segment = world.segment(revision, [(NOON + i, 3) for i in range(10)], memory_mb=512)
    world.meter()
    # 10 × 0.5 GB × 0.003 s = 0.015 GB-s exactly; the float column of the telemetry adds
    # up to 0.014999999999999998, so it is not what is priced.
    assert sum(pq.read_table(segment).column("gb_seconds").to_pylist()) != 0.015
    gb = world.record("gb-second")
    assert Decimal(gb["ConsumedQuantity"]) == Decimal("0.015")
    assert Decimal(gb["BilledCost"]) == Decimal("0.015") * Decimal("0.0000166667")
    assert Decimal(gb["BilledCost"]) == Decimal("0.000000250000500")
    assert gb["BillingCurrency"] == "USD"
    assert Decimal(world.record("requests")["BilledCost"]) == Decimal("0.000002")


def test_each_revision_is_priced_with_its_own_price_list(world: World) -> None:
    old = world.repo.git.head()
    new = world.configure(gb_second="0.025", per_million="100000", message="prices doubled")
    world.segment(new, [(NOON, 1000)])
    world.meter()
    # Usage of the old revision that arrives later keeps the old prices.
    world.segment(old, [(NOON + MINUTE, 1000)])
    world.meter()
    # 2 GB × 1 s = 2 GB-s each: old 2 × 0.0125 + 0.05; new 2 × 0.025 + 0.10.
    assert _money(world.record("gb-second", x_Revision=old)) == Decimal("0.025")
    assert _money(world.record("requests", x_Revision=old)) == Decimal("0.05")
    assert _money(world.record("gb-second", x_Revision=new)) == Decimal("0.05")
    assert _money(world.record("requests", x_Revision=new)) == Decimal("0.10")


def test_a_target_without_a_price_list_gives_zero_cost_records_with_a_note(
    world: World,
) -> None:
    revision = world.configure(production_target="bare", environment="production")
    world.segment(revision, [(NOON, 1000), (NOON + MINUTE, 1000)], environment="production")
    result = world.meter()
    note = f"target 'bare' has no price list at revision {revision[:12]}"
    assert result.unpriced == (note,)
    assert result.unpriced_records == 2
    gb, requests = world.record("gb-second"), world.record("requests")
    # The usage is recorded all the same, at zero.
    assert Decimal(gb["ConsumedQuantity"]) == 4 and Decimal(requests["ConsumedQuantity"]) == 2
    assert _money(gb) == _money(requests) == 0
    assert gb["x_PricingNote"] == requests["x_PricingNote"] == note
    assert (gb["x_Target"], gb["x_PriceList"], gb["SkuPriceId"]) == ("bare", None, None)


def test_usage_of_a_service_the_revision_does_not_declare_is_zero_with_a_note(
    world: World,
) -> None:
    revision = world.repo.git.head()
    world.segment(revision, [(NOON, 1000)], deployment="ghost")
    result = world.meter()
    assert result.unpriced == (f"ghost is not declared at revision {revision[:12]}",)
    assert _money(world.record("gb-second")) == 0


def test_a_malformed_price_list_is_a_manifest_error_and_nothing_is_written(
    world: World,
) -> None:
    good = world.repo.git.head()
    world.segment(good, [(NOON, 1000)])
    world.repo.write(
        "alignops.yaml",
        (world.repo.path / "alignops.yaml")
        .read_text()
        .replace("gbSecond: 0.0125", "gbSecond: cheap"),
    )
    bad = world.repo.commit("a typo in the prices")
    segment = world.segment(bad, [(NOON, 1000)])
    with pytest.raises(ManifestError) as caught:
        world.meter()
    text = str(caught.value)
    assert str(segment) in text and bad[:12] in text
    assert "alignops.yaml:" in text and "priceLists[0].gbSecond" in text
    assert world.records() == [] and world.metered() == []  # not even the good segment


def test_a_revision_missing_from_the_repository_is_an_error_naming_the_segment(
    world: World,
) -> None:
    segment = world.segment("f" * 40, [(NOON, 1000)])
    with pytest.raises(SourceError, match="fetch it") as caught:
        world.meter()
    assert str(segment) in str(caught.value)
    assert world.records() == [] and world.metered() == []


def test_a_serverless_functions_usage_is_priced_under_its_own_resource(world: World) -> None:
    revision = world.repo.git.head()
    # The scaffold's ServerlessFunction "scorer" (staging, target local); a handler
    # answers, no model: two segments of the same hour add up in one row per SKU.
    world.segment(revision, [(NOON, 400)], deployment="scorer", memory_mb=256, model=None)
    world.segment(revision, [(NOON + MINUTE, 600)], deployment="scorer", memory_mb=256,
                  model=None)  # fmt: skip
    world.meter()
    assert len(world.records()) == 2
    gb = world.record("gb-second")
    assert (gb["ResourceId"], gb["ResourceType"], gb["x_Model"]) == (
        "ServerlessFunction/scorer",
        "ServerlessFunction",
        None,
    )
    # 0.25 GB × 1 s = 0.25 GB-s → 0.003125; 2 requests → 0.10
    assert Decimal(gb["ConsumedQuantity"]) == Decimal("0.25")
    assert _money(gb) == Decimal("0.003125")
    assert _money(world.record("requests")) == Decimal("0.10")
    assert json.loads(gb["Tags"]) == {"team": "ai-platform"}

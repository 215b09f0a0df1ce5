"""Own usage in the ledger: metered serving and evidence CPU-seconds from a real state
database become FOCUS rows beside an ingested bill, re-derived without double counting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from alignops.errors import ManifestError
from alignops.evidence.usage import UsageRecord, save_usage
from alignops.finops.ingest import ingest_paths
from alignops.finops.ledger import Ledger
from alignops.finops.own_usage import sync_own_usage
from alignops.manifests.config import PriceList, RepoConfig
from alignops.metering.prices import Pricing
from alignops.metering.records import add_records, cost_rows
from alignops.metering.segments import Usage
from alignops.store import Database

NOON = datetime(2026, 11, 23, 12, tzinfo=UTC)
PRICES = PriceList.model_validate(
    {
        "name": "test-prices",
        "currency": "EUR",
        "gbSecond": "0.0125",
        "perMillionRequests": "50000",
        "cpuSecond": "0.002",
    }
)


def config(**finops: Any) -> RepoConfig:
    return RepoConfig.model_validate(
        {
            "environments": [{"name": "staging", "target": "local"}],
            "targets": [
                {"name": "local", "provider": "local", "priceList": "test-prices"},
                {"name": "bare", "provider": "local"},
            ],
            "priceLists": [
                PRICES.model_dump(mode="json", by_alias=True),
                {"name": "cheap", "currency": "USD", "cpuSecond": "0.0001"},
            ],
            "finops": finops,
        }
    )


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        yield db
    finally:
        db.close()


def meter_hour(database: Database, *, requests: int, billed_ms: int, mb: int = 2048) -> None:
    """What metering writes for an hour of fraud-api (labels team, cost-center)."""
    usage = Usage(
        deployment="fraud-api",
        environment="staging",
        revision="a" * 40,
        model="fraud-v1",
        model_version="1.2.0",
        hour=NOON,
        requests=requests,
        billed_ms=billed_ms,
        mb_ms=mb * billed_ms,
    )
    pricing = Pricing(
        "ModelDeployment/fraud-api", "local", PRICES, {"team": "risk", "Cost-Center": "cc-42"}
    )
    with database.transaction() as connection:
        add_records(connection, cost_rows(usage, pricing))


def evidence(database: Database, *records: tuple[str, str, float, int]) -> None:
    """Evidence jobs of model fraud-v1 (label team: risk): (check, activity, CPU s, minute)."""
    save_usage(
        database,
        [
            UsageRecord(
                recorded_at=NOON.replace(minute=minute),
                model="fraud-v1",
                model_digest="d" * 64,
                activity=activity,
                check=check,
                evidence_key="e" * 64,
                revision="b" * 40,
                cpu_seconds=cpu,
                wall_seconds=cpu + 0.5,
                rows=1000,
                labels={"team": "risk"},
            )
            for check, activity, cpu, minute in records
        ],
    )


def charges(ledger: Ledger, where: str = "true") -> list[dict[str, Any]]:
    with ledger.connect(read_only=True) as con:
        cursor = con.execute(f"SELECT * FROM charges WHERE {where} ORDER BY x_Source, SkuId")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def sync(ledger: Ledger, database: Database, settings: RepoConfig | None = None) -> Any:
    with ledger.connect() as con:
        return sync_own_usage(con, database, config=settings or config())


def test_metered_serving_becomes_focus_rows_with_its_dimensions(
    ledger: Ledger, database: Database
) -> None:
    meter_hour(database, requests=40, billed_ms=4000)
    result = sync(ledger, database)
    assert (result.runtime_rows, result.evidence_rows, result.changed) == (2, 0, True)
    rows = charges(ledger)
    assert [r["SkuId"] for r in rows] == ["gb-second", "requests"]
    gb, requests = rows
    assert gb["ConsumedQuantity"] == Decimal("8")  # 2048 MB × 4 s
    assert gb["EffectiveCost"] == gb["BilledCost"] == Decimal("0.1")  # × EUR 0.0125
    assert requests["EffectiveCost"] == Decimal("2")  # 40 × EUR 50,000 / 1,000,000
    for row in rows:
        assert row["BillingCurrency"] == "EUR"
        assert row["ChargePeriodStart"] == datetime(2026, 11, 23, 12)
        assert row["ChargePeriodEnd"] == datetime(2026, 11, 23, 13)
        assert row["ServiceCategory"] == "AI and Machine Learning"
        assert row["ResourceId"] == "ModelDeployment/fraud-api"
        assert (row["x_Model"], row["x_ModelVersion"], row["x_Revision"]) == (
            "fraud-v1",
            "1.2.0",
            "a" * 40,
        )
        assert (row["x_Environment"], row["x_Activity"]) == ("staging", "serving")
        assert (row["x_Team"], row["x_CostCenter"]) == ("risk", "cc-42")  # from the labels
        assert json.loads(row["x_Tags"]) == {"team": "risk", "cost-center": "cc-42"}
        assert row["x_Source"] == "alignops-runtime"
        assert row["x_InputTokens"] is None and row["x_OutputTokens"] is None
        assert json.loads(row["x_Extra"])["x_Target"] == "local"
    assert json.loads(gb["x_Extra"])["x_BilledMs"] == 4000


def test_evidence_cpu_seconds_are_priced_per_hour_model_and_check(
    ledger: Ledger, database: Database
) -> None:
    evidence(
        database,
        ("fairness", "fairness-audit", 1.25, 5),
        ("fairness", "fairness-audit", 0.75, 40),  # the same hour: one row
        ("explainability", "explainability", 3.5, 10),
    )
    result = sync(ledger, database, config(evidencePriceList="cheap"))
    assert (result.evidence_rows, result.evidence_records) == (2, 3)
    assert result.evidence_price_list == "cheap"
    rows = {r["x_Activity"]: r for r in charges(ledger)}
    fairness, explainability = rows["fairness-audit"], rows["explainability"]
    assert fairness["ConsumedQuantity"] == Decimal("2")
    assert fairness["EffectiveCost"] == Decimal("0.0002")  # 2 CPU-s × USD 0.0001
    assert explainability["EffectiveCost"] == Decimal("0.00035")
    for row in (fairness, explainability):
        assert row["x_Source"] == "alignops-evidence"
        assert (row["SkuId"], row["PricingUnit"], row["ChargeCategory"]) == (
            "cpu-second",
            "CPU-seconds",
            "Usage",
        )
        assert row["ServiceCategory"] == "AI and Machine Learning"
        assert row["ChargePeriodStart"] == datetime(2026, 11, 23, 12)
        assert row["BillingCurrency"] == "USD"
        assert (row["x_Model"], row["x_Revision"], row["x_Team"]) == ("fraud-v1", "b" * 40, "risk")
        assert row["x_Environment"] is None  # evidence runs in the gate, not in an environment
    extra = json.loads(fairness["x_Extra"])
    assert (extra["check"], extra["records"], extra["rows"]) == ("fairness", 2, 2000)


def test_evidence_prices_default_to_the_first_environments_target(
    ledger: Ledger, database: Database
) -> None:
    evidence(database, ("drift", "drift-monitoring", 10.0, 0))
    sync(ledger, database)
    (row,) = charges(ledger)
    assert (row["EffectiveCost"], row["BillingCurrency"]) == (Decimal("0.02"), "EUR")
    assert row["SkuPriceId"] == "test-prices/cpu-second"


def test_without_a_price_list_evidence_is_recorded_at_zero_with_a_note(
    ledger: Ledger, database: Database
) -> None:
    evidence(database, ("drift", "drift-monitoring", 10.0, 0))
    settings = RepoConfig.model_validate(
        {
            "environments": [{"name": "staging", "target": "bare"}],
            "targets": [{"name": "bare", "provider": "local"}],
        }
    )
    result = sync(ledger, database, settings)
    (row,) = charges(ledger)
    assert row["EffectiveCost"] == 0 and row["ConsumedQuantity"] == 10
    note = "target 'bare' of environment 'staging' has no price list (set finops.evidencePriceList)"
    assert json.loads(row["x_Extra"])["pricingNote"] == note
    assert result.notes == (note,)


def test_an_unknown_evidence_price_list_is_a_config_error(
    ledger: Ledger, database: Database
) -> None:
    evidence(database, ("drift", "drift-monitoring", 1.0, 0))
    with pytest.raises(ManifestError, match=r"finops.evidencePriceList: unknown price list"):
        sync(ledger, database, config(evidencePriceList="nope"))
    assert not ledger.path.exists() or charges(ledger) == []


def test_syncing_again_changes_nothing_and_more_usage_replaces_not_adds(
    ledger: Ledger, database: Database, focus_sample: Path
) -> None:
    ingest_paths(ledger, [focus_sample], governed_tags=config().finops.governed_tags)
    bill = charges(ledger, "x_Source = 'focus'")
    meter_hour(database, requests=40, billed_ms=4000)
    evidence(database, ("fairness", "fairness-audit", 1.0, 5))
    first = sync(ledger, database)
    assert first.changed and first.replaced == 0
    again = sync(ledger, database)
    assert (again.changed, again.runtime_rows, again.evidence_rows) == (False, 2, 1)
    meter_hour(database, requests=10, billed_ms=1000)  # more of the same hour, metered later
    evidence(database, ("fairness", "fairness-audit", 0.5, 50))
    third = sync(ledger, database)
    assert (third.changed, third.replaced, third.runtime_rows, third.evidence_rows) == (
        True,
        3,
        2,
        1,
    )
    own = charges(ledger, "x_Source <> 'focus'")
    costs = {r["SkuId"]: r["EffectiveCost"] for r in own}
    assert costs == {
        "gb-second": Decimal("0.125"),  # 2048 MB × 5 s × 0.0125
        "requests": Decimal("2.5"),  # 50 requests
        "cpu-second": Decimal("0.003"),  # 1.5 CPU-s × 0.002
    }
    assert charges(ledger, "x_Source = 'focus'") == bill  # the bill is untouched
    with ledger.connect(read_only=True) as con:
        ingests = con.execute("SELECT count(*) FROM ingests WHERE source = 'alignops'").fetchone()
        (ingest_id,) = {r["x_IngestId"] for r in own}
        assert ingests == (1,)
        assert con.execute("SELECT rows FROM ingests WHERE id = ?", [ingest_id]).fetchone() == (3,)

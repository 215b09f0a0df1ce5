"""Cost anomalies on a real ledger: an injected spike is found with its impact and its
service as root cause; a level shift is one anomaly; feedback suppresses repeats; clean
seasonal series raise nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from alignops.errors import UsageError
from alignops.finops.cost_anomalies import (
    UNTAGGED,
    CostAnomaly,
    detect_cost_anomalies,
    record_feedback,
)
from alignops.finops.engine import open_engine
from alignops.finops.ledger import Ledger

from .test_budgets import insert_charges

FIRST = date(2026, 1, 1)
LAST = date(2026, 4, 30)
TEAMS = {"ai-platform": 900.0, "risk": 400.0, "search": 2500.0, None: 60.0}
SERVICES = {
    "Amazon SageMaker": ("111111111111", "us-east-1", 0.6),
    "Amazon S3": ("111111111111", "us-east-1", 0.1),
    "Amazon Bedrock": ("222222222222", "eu-west-1", 0.3),
}
WEEKLY = (1.0, 1.05, 1.02, 1.0, 0.97, 0.45, 0.4)  # Monday … Sunday


def days(first: date = FIRST, last: date = LAST) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def seasonal_rows(
    seed: int = 7,
    spikes: dict[tuple[str | None, date], tuple[str, Decimal]] | None = None,
    shifts: dict[str | None, tuple[date, float]] | None = None,
) -> list[dict[str, object]]:
    """Each team's daily cost split over three services: a weekly cycle, a slow trend and
    3 % noise (seeded); ``spikes`` adds an amount to one service on one day, ``shifts``
    multiplies a team's cost from a day on."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for day in days():
        start = datetime.combine(day, datetime.min.time())
        trend = 1 + 0.1 * (day - FIRST).days / 365
        for team, level in TEAMS.items():
            shift = (shifts or {}).get(team)
            factor = shift[1] if shift and day >= shift[0] else 1.0
            for service, (account, region, share) in SERVICES.items():
                noise = 1 + 0.03 * rng.standard_normal()
                amount = Decimal(
                    repr(round(level * share * WEEKLY[day.weekday()] * trend * factor * noise, 6))
                )
                extra = (spikes or {}).get((team, day))
                if extra is not None and extra[0] == service:
                    amount += extra[1]
                rows.append(
                    {
                        "ChargePeriodStart": start,
                        "ChargePeriodEnd": start + timedelta(days=1),
                        "BilledCost": str(amount),
                        "EffectiveCost": str(amount),
                        "ListCost": str(amount),
                        "BillingCurrency": "USD",
                        "ServiceName": service,
                        "SubAccountId": account,
                        "BillingAccountId": "999999999999",
                        "RegionId": region,
                        "ChargeCategory": "Usage",
                        "x_Team": team,
                        "x_Environment": "production",
                        "x_Source": "focus",
                    }
                )
    return rows


def ledger_with(tmp_path: Path, rows: list[dict[str, object]]) -> Ledger:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    with ledger.connect() as con:
        insert_charges(con, rows)
    return ledger


def detect(ledger: Ledger, **options: object) -> list[CostAnomaly]:
    with open_engine(ledger) as engine:
        return detect_cost_anomalies(
            engine,
            dimensions=options.pop("dimensions", ["team"]),  # type: ignore[arg-type]
            start=options.pop("start", date(2026, 3, 1)),  # type: ignore[arg-type]
            today=options.pop("today", LAST),  # type: ignore[arg-type]
            **options,  # type: ignore[arg-type]
        )


SPIKE_DAY = date(2026, 4, 14)  # a Tuesday


def test_a_spike_is_found_with_its_impact_and_service_as_root_cause(tmp_path: Path) -> None:
    spike = Decimal("250.000001")  # +60 % of risk's Tuesday, all of it on Bedrock
    ledger = ledger_with(
        tmp_path, seasonal_rows(spikes={("risk", SPIKE_DAY): ("Amazon Bedrock", spike)})
    )

    (found,) = detect(ledger)

    assert (found.dimension, found.value, found.day, found.last_day) == (
        "team",
        "risk",
        SPIKE_DAY,
        SPIKE_DAY,
    )
    assert found.currency == "USD"
    assert found.impact == found.actual - found.expected  # exact money
    assert abs(found.impact - spike) < Decimal("30")  # the noise of one day, about 3 %
    assert found.impact_percent is not None and 45 < found.impact_percent < 75
    assert found.score >= 4
    top = found.root_causes[0]
    assert (top.dimension, top.key) == ("service", "Amazon Bedrock")
    assert top.share is not None and top.share > 0.85
    by_dimension = {c.dimension: c.key for c in found.root_causes}
    assert by_dimension["region"] == "eu-west-1"
    assert by_dimension["account"] == "222222222222"
    assert found.drill_down["service"][0].key == "Amazon Bedrock"
    assert not found.suppressed and found.feedback is None

    # the same spike seen by service: Bedrock's series, explained by team risk
    (by_service,) = detect(ledger, dimensions=["service"])
    assert (by_service.value, by_service.day) == ("Amazon Bedrock", SPIKE_DAY)
    assert {c.dimension: c.key for c in by_service.root_causes}["team"] == "risk"


def test_clean_seasonal_series_raise_nothing(tmp_path: Path) -> None:
    ledger = ledger_with(tmp_path, seasonal_rows())
    every = ["model", "team", "env", "activity", "cost_center", "service", "account", "region"]
    assert detect(ledger, dimensions=every, start=FIRST) == []


def test_a_level_shift_is_one_anomaly_not_one_per_day(tmp_path: Path) -> None:
    onset = date(2026, 4, 2)
    ledger = ledger_with(tmp_path, seasonal_rows(shifts={"search": (onset, 1.5)}))

    (found,) = detect(ledger)

    assert (found.value, found.day) == ("search", onset)
    assert len(found.days) >= 7  # flagged day after day until the baseline learns it
    assert found.impact > Decimal(7 * 0.45 * 2500 * 0.4)


def test_feedback_no_suppresses_the_anomaly_and_its_repeat(tmp_path: Path) -> None:
    repeat_day = SPIKE_DAY + timedelta(days=10)
    other_day = SPIKE_DAY + timedelta(days=3)
    spikes = {
        ("risk", SPIKE_DAY): ("Amazon Bedrock", Decimal("300")),
        ("risk", repeat_day): ("Amazon Bedrock", Decimal("300")),
        ("ai-platform", other_day): ("Amazon SageMaker", Decimal("600")),
    }
    ledger = ledger_with(tmp_path, seasonal_rows(spikes=spikes))
    before = detect(ledger)
    assert [(a.value, a.day) for a in before] == [
        ("risk", SPIKE_DAY),
        ("ai-platform", other_day),
        ("risk", repeat_day),
    ]

    with open_engine(ledger, read_only=False) as engine:
        given = record_feedback(
            engine,
            dimension="team",
            value="risk",
            day=SPIKE_DAY,
            verdict="no",
            note="load test",
            now=datetime(2026, 4, 15, 9, tzinfo=UTC),
        )
    after = {(a.value, a.day): a for a in detect(ledger)}

    first = after[("risk", SPIKE_DAY)]
    assert first.feedback == given and first.suppressed
    repeat = after[("risk", repeat_day)]
    assert repeat.suppressed and repeat.feedback is None
    assert repeat.suppressed_by == given
    assert not after[("ai-platform", other_day)].suppressed

    # "yes" on the repeat: a person says this one is real, so it is shown again
    with open_engine(ledger, read_only=False) as engine:
        record_feedback(engine, dimension="team", value="risk", day=repeat_day, verdict="yes")
    again = {(a.value, a.day): a for a in detect(ledger)}
    assert not again[("risk", repeat_day)].suppressed
    assert again[("risk", SPIKE_DAY)].suppressed

    # feedback does not reach another dimension's anomaly of the same costs
    (by_service,) = [a for a in detect(ledger, dimensions=["service"]) if a.day == SPIKE_DAY]
    assert not by_service.suppressed


def test_untagged_costs_are_a_series_of_their_own(tmp_path: Path) -> None:
    rows = seasonal_rows(spikes={(None, SPIKE_DAY): ("Amazon S3", Decimal("90"))})
    ledger = ledger_with(tmp_path, rows)
    (found,) = detect(ledger)
    assert (found.value, found.day) == (UNTAGGED, SPIKE_DAY)


def test_wrong_arguments_are_usage_errors(tmp_path: Path) -> None:
    ledger = ledger_with(tmp_path, seasonal_rows()[:30])
    with pytest.raises(UsageError, match="unknown dimension 'teams'"):
        detect(ledger, dimensions=["teams"])
    with pytest.raises(UsageError, match="unknown cost metric"):
        detect(ledger, metric="Cost")
    with (
        open_engine(ledger, read_only=False) as engine,
        pytest.raises(UsageError, match="verdict: expected one of yes, no, planned, got 'maybe'"),
    ):
        record_feedback(engine, dimension="team", value="risk", day=SPIKE_DAY, verdict="maybe")

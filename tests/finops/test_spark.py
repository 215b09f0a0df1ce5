"""DuckDB and Spark give identical reports: the same Ibis expressions on a local Spark
session (one for the module: it takes 10–20 s to start) and on the DuckDB ledger, for the
FOCUS sample, own usage and a generated ledger with untagged and shared costs."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from alignops.finops.allocation import AllocationReport, allocate
from alignops.finops.allocation_responsible_ai import responsible_ai_view
from alignops.finops.engine import open_engine
from alignops.finops.ingest import ingest_paths
from alignops.finops.ledger import Ledger
from alignops.finops.own_usage import sync_own_usage
from alignops.finops.queries import daily_costs
from alignops.manifests.config import AllocationRule, FinopsSettings
from alignops.store import Database
from tests.finops.test_allocation import add_charges, assert_conserved
from tests.finops.test_own_usage import config, evidence, meter_hour

pytest.importorskip("pyspark")

RULES = [
    AllocationRule.model_validate(r)
    for r in (
        {"dimension": "team", "sharedValues": ["shared", "platform"], "untagged": "proportional"},
        {"dimension": "model", "untagged": "even", "sharedValues": ["common"]},
        {"dimension": "env", "untagged": "fixed", "split": {"prod": 70, "staging": 30}},
    )
]


def _generated(rng: random.Random) -> list[dict[str, Any]]:
    """Two months of hourly charges: 15 % untagged per dimension, a shared team, costs
    with 10 decimals, two currencies, credits."""
    rows = []
    start = datetime(2024, 9, 20)
    for i in range(600):
        at = start + timedelta(hours=rng.randrange(24 * 40))

        def pick(values: list[str]) -> str | None:
            return None if rng.random() < 0.15 else rng.choice(values)

        cost = Decimal(rng.randrange(-(10**9), 10**12)).scaleb(-10)
        rows.append(
            {
                "cost": cost,
                "at": at,
                "currency": "EUR" if i % 7 == 0 else "USD",
                "model": pick(["fraud", "churn", "scorer", "common"]),
                "team": pick(["risk", "growth", "shared", "platform"]),
                "env": pick(["prod", "staging"]),
                "activity": pick(["serving", "fairness-audit", "explainability"]),
            }
        )
    return rows


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory, focus_sample_path: Path) -> Ledger:
    """The FOCUS sample, own usage (serving and evidence) and generated charges."""
    folder = tmp_path_factory.mktemp("spark-ledger")
    ledger = Ledger(folder / "ledger.duckdb")
    settings = FinopsSettings.model_validate({"governedTags": {"model": ["application"]}})
    ingest_paths(ledger, [focus_sample_path], governed_tags=settings.governed_tags)
    database = Database(f"sqlite:///{folder / 'state.db'}")
    try:
        meter_hour(database, requests=40, billed_ms=4000)
        evidence(
            database, ("fairness", "fairness-audit", 1.25, 5), ("shap", "explainability", 2, 9)
        )
        with ledger.connect() as con:
            sync_own_usage(con, database, config=config())
    finally:
        database.close()
    add_charges(ledger, _generated(random.Random(20261123)))
    return ledger


@pytest.fixture(scope="module")
def focus_sample_path() -> Path:
    from tests.finops.conftest import FOCUS_SAMPLE

    return FOCUS_SAMPLE


@pytest.fixture(scope="module")
def session() -> Iterator[Any]:
    """One local Spark session for the module; spark_backend uses it and leaves it up."""
    from alignops.finops.spark import local_session

    spark = local_session("alignops-tests")
    try:
        yield spark
    finally:
        spark.stop()


CASES = [
    (("model", "team", "env", "activity"), "month", None, None, RULES, "EffectiveCost"),
    (("model", "activity"), "week", date(2024, 9, 9), date(2026, 12, 1), RULES, "BilledCost"),
    (("team", "cost_center"), "day", date(2024, 9, 28), date(2024, 10, 3), RULES, "ListCost"),
]
"""Every window but ``total`` (the next test has it), every metric, open and closed
ranges, rules of dimensions in and out of ``by``."""


def _reports(engine: Any) -> list[AllocationReport]:
    return [
        allocate(engine, by=by, window=window, start=start, end=end, rules=rules, metric=metric)
        for by, window, start, end, rules, metric in CASES
    ]


def _daily(engine: Any) -> list[dict[str, Any]]:
    frame = daily_costs(engine, by=["model", "team"], start=date(2024, 9, 15), metric="BilledCost")
    return _records(frame)


def _records(frame: Any) -> list[dict[str, Any]]:
    """The frame's rows in its order, nulls (None or NaN) as None."""
    return [
        {k: (None if v is None or v != v else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def test_duckdb_and_spark_give_identical_reports(ledger: Ledger, session: Any) -> None:
    with open_engine(ledger, "duckdb") as engine:
        on_duckdb = _reports(engine)
        daily_duckdb = _daily(engine)
    with open_engine(ledger, "spark") as engine:
        assert engine.name == "spark"
        on_spark = _reports(engine)
        daily_spark = _daily(engine)
    for duck, spark in zip(on_duckdb, on_spark, strict=True):
        assert duck == spark
        assert duck.to_dict() == spark.to_dict()
        assert_conserved(spark)
    assert responsible_ai_view(on_duckdb[1]) == responsible_ai_view(on_spark[1])
    assert daily_duckdb == daily_spark
    full = on_duckdb[0]
    windows = {(t.window, t.currency) for t in full.totals}
    assert {(date(2024, 9, 1), "USD"), (date(2024, 10, 1), "EUR")} <= windows  # bill, generated
    assert (date(2026, 11, 1), "EUR") in windows  # own usage
    sources = {line.values[3] for line in full.lines}
    assert {"serving", "fairness-audit", "explainability"} <= sources
    assert any(t.unallocated for t in full.totals)  # activity has no rule: some stays


def test_spark_sees_the_ledger_as_it_is_when_opened(
    ledger: Ledger, session: Any, tmp_path: Path
) -> None:
    ledger = Ledger(Path(shutil.copy(ledger.path, tmp_path / "copy.duckdb")))
    options: dict[str, Any] = {"by": ["env", "team"], "window": "total", "rules": RULES}
    with open_engine(ledger, "spark") as engine:
        before = allocate(engine, start=date(2024, 9, 1), **options)
    add_charges(ledger, [{"cost": "1234.5", "team": "audit", "at": datetime(2024, 9, 30)}])
    with open_engine(ledger, "spark") as engine:
        after = allocate(engine, start=date(2024, 9, 1), **options)
    with open_engine(ledger, "duckdb") as engine:
        assert allocate(engine, start=date(2024, 9, 1), **options) == after
    assert_conserved(after)
    usd = {t.currency: t.total for t in after.totals}["USD"]
    assert usd - {t.currency: t.total for t in before.totals}["USD"] == Decimal("1234.5")
    assert session.getActiveSession() is not None  # the module's session is still up

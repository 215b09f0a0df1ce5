"""Budgets against a real ledger: thresholds fire once each, in order, through a real
Slack receiver on loopback; a new period fires again; money is exact."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from alignops.audit import AuditLog
from alignops.finops.budgets import BudgetStatus, budget_period, evaluate_budgets
from alignops.finops.engine import open_engine
from alignops.finops.ledger import Ledger
from alignops.manifests import load_manifests
from alignops.manifests.config import NotificationSettings
from alignops.manifests.kinds.alertroute import AlertRoute
from alignops.manifests.kinds.budget import Budget
from alignops.notify import Notifier
from alignops.store import Database
from alignops.testing.http_capture import HttpCapture

SECRET_PATH = "/services/T0FINOPS/B0BUDGET/s3cr3tT0k3nNeverPrinted"

ROUTES = """\
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: finops-slack
spec:
  target: slack://#finops
  secretRef:
    env: SLACK_WEBHOOK_URL
"""

BUDGET = """\
apiVersion: alignops.dev/v1alpha1
kind: Budget
metadata:
  name: ai-platform-monthly
spec:
  amount: 1000
  currency: USD
  period: monthly
  scope:
    tags:
      team: ai-platform
  thresholds:
    - percent: 50
    - percent: 80
    - percent: 100
    - percent: 100
      basis: forecast
  routes: [finops-slack]
"""


def manifests(text: str, kind: type) -> list:  # type: ignore[type-arg]
    out = [r.model for r in load_manifests("finops/budgets.yaml", text.encode())]
    assert all(isinstance(m, kind) for m in out)
    return out


def platform_cost(day: date) -> Decimal:
    """ai-platform's daily cost: 50.000001 on weekdays, 15.25 at weekends."""
    return Decimal("50.000001") if day.weekday() < 5 else Decimal("15.25")


def charge_rows(day: date) -> list[dict[str, object]]:
    """One day of charges: ai-platform in USD (two services) and EUR, another team."""
    start = datetime.combine(day, datetime.min.time())
    cost = platform_cost(day)
    rows = [
        ("ai-platform", "USD", "Amazon SageMaker", cost - Decimal("10")),
        ("ai-platform", "USD", "Amazon S3", Decimal("10")),
        ("ai-platform", "EUR", "Amazon Bedrock", Decimal("7.5")),
        ("risk", "USD", "Amazon SageMaker", Decimal("400")),
    ]
    return [
        {
            "ChargePeriodStart": start,
            "ChargePeriodEnd": start + timedelta(days=1),
            "BilledCost": str(amount),
            "EffectiveCost": str(amount),
            "ListCost": str(amount),
            "BillingCurrency": currency,
            "ServiceName": service,
            "ChargeCategory": "Usage",
            "x_Team": team,
            "x_Source": "focus",
        }
        for team, currency, service, amount in rows
    ]


def insert_charges(con: duckdb.DuckDBPyConnection, rows: list[dict[str, object]]) -> None:
    """Rows into ``charges`` by column name (money as text, cast exactly to DECIMAL)."""
    frame = pd.DataFrame(rows)
    con.register("new_rows", frame)
    try:
        con.execute("INSERT INTO charges BY NAME SELECT * FROM new_rows")
    finally:
        con.unregister("new_rows")


@dataclass
class World:
    ledger: Ledger
    database: Database
    audit: AuditLog
    notifier: Notifier
    slack: HttpCapture
    loaded_through: date

    def ingest_through(self, last: date) -> None:
        """Charges of every day after the ones already in the ledger, through ``last``."""
        rows = []
        day = self.loaded_through + timedelta(days=1)
        while day <= last:
            rows += charge_rows(day)
            day += timedelta(days=1)
        with self.ledger.connect() as con:
            insert_charges(con, rows)
        self.loaded_through = last

    def evaluate(self, today: date, budgets: list[Budget] | None = None) -> BudgetStatus:
        with open_engine(self.ledger, read_only=False) as engine:
            (status,) = evaluate_budgets(
                engine,
                budgets or manifests(BUDGET, Budget),
                notifier=self.notifier,
                audit=self.audit,
                today=today,
            )
        self.notifier.dispatch()
        return status

    def messages(self) -> list[dict[str, object]]:
        return [r.json() for r in self.slack.requests]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with HttpCapture() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url_for(SECRET_PATH))
        database = Database(f"sqlite:///{tmp_path / 'state.db'}")
        audit = AuditLog(database)
        notifier = Notifier(
            manifests(ROUTES, AlertRoute),
            NotificationSettings(),
            database=database,
            audit=audit,
            root=tmp_path,
        )
        ledger = Ledger(tmp_path / "ledger.duckdb")
        world = World(ledger, database, audit, notifier, slack, date(2026, 1, 31))
        world.ingest_through(date(2026, 2, 28))  # a month of history for the forecast
        yield world
        database.close()


def fields(message: dict[str, object]) -> dict[str, str]:
    """The Slack message's fields section as {name: value}."""
    blocks = message["blocks"]
    assert isinstance(blocks, list)
    out = {}
    for block in blocks:
        for item in block.get("fields", []):
            name, _, value = item["text"].partition("\n")
            out[name.strip("*")] = value
    return out


def test_each_threshold_fires_once_in_order_as_costs_arrive_in_steps(world: World) -> None:
    march = [date(2026, 3, d) for d in range(1, 32)]
    spent = Decimal(0)
    crossing: dict[int, date] = {}
    for day in march:
        spent += platform_cost(day)
        for percent in (50, 80, 100):
            if spent >= Decimal(10) * percent and percent not in crossing:
                crossing[percent] = day
    # ingest and evaluate (as every ingest does) on the first days, the day before each
    # crossing, the crossing day itself and the last day
    steps = sorted(
        {march[0], march[1], march[-1]}
        | {day - timedelta(days=1) for day in crossing.values()}
        | set(crossing.values())
    )
    fired_on: dict[str, date] = {}
    for day in steps:
        world.ingest_through(day)
        status = world.evaluate(day)
        for threshold in status.thresholds:
            if threshold.fired_now:
                key = f"{threshold.basis} {threshold.percent:g}"
                assert key not in fired_on, f"{key} fired twice"
                fired_on[key] = day
        if any(t.fired_now for t in status.thresholds):
            # re-evaluating the same data never fires again
            again = world.evaluate(day)
            assert not any(t.fired_now for t in again.thresholds)
            assert [t.fired_at for t in again.thresholds] == [t.fired_at for t in status.thresholds]

    assert fired_on == {
        "forecast 100": date(2026, 3, 1),
        "actual 50": crossing[50],
        "actual 80": crossing[80],
        "actual 100": crossing[100],
    }
    assert fired_on["forecast 100"] < fired_on["actual 100"]

    messages = world.messages()
    assert [m["text"] for m in messages] == [
        "[CRITICAL] Budget ai-platform-monthly: forecast to reach 100 % of 1,000.00 USD in "
        f"2026-03 ({fields(messages[0])['Forecast'].split(' (')[0]} by 2026-03-31)",
        "[INFO] Budget ai-platform-monthly: 50 % of 1,000.00 USD spent in 2026-03 "
        f"({fields(messages[1])['Spend'].split(' (')[0]})",
        "[WARNING] Budget ai-platform-monthly: 80 % of 1,000.00 USD spent in 2026-03 "
        f"({fields(messages[2])['Spend'].split(' (')[0]})",
        "[CRITICAL] Budget ai-platform-monthly: 100 % of 1,000.00 USD spent in 2026-03 "
        f"({fields(messages[3])['Spend'].split(' (')[0]})",
    ]
    first = fields(messages[1])
    assert first["Budget"] == "ai-platform-monthly"
    assert first["Scope"] == "team=ai-platform"
    assert first["Amount"] == "1,000.00 USD"
    assert first["Percent"] == "50 % (actual)"
    assert first["Period"] == "2026-03 (2026-03-01 – 2026-03-31)"
    assert all(m["channel"] == "#finops" for m in messages)

    with world.ledger.connect(read_only=True) as con:
        events = con.execute(
            "SELECT basis, percent, period_start FROM budget_events ORDER BY fired_at, percent"
        ).fetchall()
    assert sorted(events) == sorted(
        [
            ("forecast", 100.0, date(2026, 3, 1)),
            ("actual", 50.0, date(2026, 3, 1)),
            ("actual", 80.0, date(2026, 3, 1)),
            ("actual", 100.0, date(2026, 3, 1)),
        ]
    )
    records = [r for r in world.audit.records(action="budget.threshold")]
    assert sorted((r.data["basis"], r.data["percent"]) for r in records) == sorted(
        [("forecast", 100.0), ("actual", 50.0), ("actual", 80.0), ("actual", 100.0)]
    )
    assert world.audit.verify().ok

    # the next period fires again: April's forecast crosses 100 % on its first day
    world.ingest_through(date(2026, 4, 1))
    april = world.evaluate(date(2026, 4, 1))
    assert april.period_label == "2026-04"
    assert [(t.basis, t.percent) for t in april.thresholds if t.fired_now] == [("forecast", 100.0)]
    assert len(world.messages()) == 5
    assert "2026-04" in str(world.messages()[-1]["text"])


def test_spend_is_exact_in_scope_and_currency_and_the_forecast_is_a_burn_down(
    world: World,
) -> None:
    world.ingest_through(date(2026, 3, 10))
    status = world.evaluate(date(2026, 3, 10))

    expected = sum((platform_cost(date(2026, 3, d)) for d in range(1, 11)), Decimal(0))
    assert status.actual == expected  # exact: 7 weekdays × 50.000001 + 3 × 15.25
    assert status.actual == Decimal("395.750007")
    assert status.other_currencies == {"EUR": Decimal("75.0")}
    assert [p.day for p in status.daily] == [date(2026, 3, d) for d in range(1, 11)]
    assert status.daily[-1].actual == status.actual
    assert status.data_through == date(2026, 3, 10)

    days = [p.day for p in status.forecast_points]
    assert days == [date(2026, 3, d) for d in range(11, 32)]
    for point in status.forecast_points:
        assert point.lo95 <= point.lo80 <= point.mean <= point.hi80 <= point.hi95
        assert point.lo95 >= status.actual
    means = [p.mean for p in status.forecast_points]
    assert means == sorted(means)
    assert status.forecast == means[-1]
    # weekdays ~50, weekends ~15: 15 weekdays and 6 weekend days are left
    assert abs(status.forecast - status.actual - Decimal(15 * 50 + 6 * 15.25)) < 60
    assert status.forecast_method == "MSTL"

    # data later than "today" is not counted; a day without data yet is forecast, not zero
    earlier = world.evaluate(date(2026, 3, 5))
    assert earlier.actual == sum((platform_cost(date(2026, 3, d)) for d in range(1, 6)), Decimal(0))
    assert earlier.forecast_points[0].day == date(2026, 3, 6)


def test_late_data_is_forecast_from_the_ledgers_last_day(world: World) -> None:
    world.ingest_through(date(2026, 3, 8))
    status = world.evaluate(date(2026, 3, 12))  # the export lags four days
    assert status.data_through == date(2026, 3, 8)
    assert status.forecast_points[0].day == date(2026, 3, 9)
    assert len(status.forecast_points) == 23


def test_read_only_evaluation_fires_nothing(world: World) -> None:
    world.ingest_through(date(2026, 3, 31))
    with open_engine(world.ledger) as engine:
        (status,) = evaluate_budgets(
            engine,
            manifests(BUDGET, Budget),
            notifier=world.notifier,
            audit=world.audit,
            today=date(2026, 3, 31),
            fire=False,
        )
    assert [t.reached for t in status.thresholds] == [True, True, True, True]
    assert not any(t.fired_at for t in status.thresholds)
    assert status.forecast_method == "none"  # the period's last day: nothing left to forecast
    assert status.forecast == status.actual
    assert world.notifier.dispatch().counts()["sent"] == 0


def test_a_scope_without_spend_is_forecast_to_spend_nothing(world: World) -> None:
    quiet = (
        BUDGET.replace("team: ai-platform", "team: nobody")
        .replace("name: ai-platform-monthly", "name: nobody-quarterly")
        .replace("period: monthly", "period: quarterly")
    )
    world.ingest_through(date(2026, 3, 3))
    status = world.evaluate(date(2026, 3, 3), manifests(quiet, Budget))
    assert status.period_label == "2026-Q1"
    assert (status.actual, status.forecast) == (Decimal(0), Decimal(0))
    assert status.forecast_method == "no-history"
    assert not any(t.reached for t in status.thresholds)
    assert world.messages() == []


@pytest.mark.parametrize(
    ("period", "today", "expected"),
    [
        ("monthly", date(2026, 12, 31), (date(2026, 12, 1), date(2027, 1, 1), "2026-12")),
        ("monthly", date(2028, 2, 29), (date(2028, 2, 1), date(2028, 3, 1), "2028-02")),
        ("quarterly", date(2026, 11, 5), (date(2026, 10, 1), date(2027, 1, 1), "2026-Q4")),
        ("quarterly", date(2026, 4, 1), (date(2026, 4, 1), date(2026, 7, 1), "2026-Q2")),
        ("yearly", date(2026, 7, 14), (date(2026, 1, 1), date(2027, 1, 1), "2026")),
    ],
)
def test_periods_are_utc_calendar_periods(
    period: str, today: date, expected: tuple[date, date, str]
) -> None:
    assert budget_period(period, today) == expected


def test_fired_at_is_the_evaluation_time(world: World) -> None:
    world.ingest_through(date(2026, 3, 2))
    moment = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    with open_engine(world.ledger, read_only=False) as engine:
        (status,) = evaluate_budgets(
            engine,
            manifests(BUDGET, Budget),
            notifier=None,
            audit=None,
            today=date(2026, 3, 2),
            now=moment,
        )
    (fired,) = status.fired
    assert (fired.basis, fired.fired_at) == ("forecast", moment)
    with open_engine(world.ledger, read_only=False) as engine:
        (again,) = evaluate_budgets(
            engine, manifests(BUDGET, Budget), notifier=None, audit=None, today=date(2026, 3, 2)
        )
    assert again.fired[0].fired_at == moment and not again.fired[0].fired_now

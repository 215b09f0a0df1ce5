"""Budgets: spend in a scope per calendar period, thresholds on actual and forecast spend.

:func:`evaluate_budgets` takes the ``Budget`` resources of the config repository and the
ledger, and for each budget and the UTC calendar period (month, quarter, year) holding
``today``:

- **actual**: the cost (``finops.costMetric``) of the charges whose governed dimensions
  equal every ``spec.scope.tags`` value and whose ``BillingCurrency`` is the budget's
  currency, from the period's first day through the ledger's last day of data (the
  latest ``ChargePeriodStart`` day up to ``today``: billing exports arrive a day or two
  late, and days not yet exported are forecast, not counted as zero);
- **forecast**: actual plus the forecast mean of each remaining day of the period
  (:mod:`alignops.finops.budgets_forecast`), with 80 % and 95 % intervals;
- **thresholds**: ``actual`` ones are reached when actual ≥ percent × amount,
  ``forecast`` ones when the forecast is. A threshold reached for the first time in a
  period **fires**: a row in the ledger's ``budget_events`` (its key is budget, period,
  percent and basis, so it fires once), a ``budget`` notification to the budget's
  ``routes`` (deduplicated on the same key by the outbox), an audit record
  (``budget.threshold``). Re-evaluating never fires again; the next period does.

Spend of other currencies in the scope is not converted: it is reported apart
(``other_currencies``). Decision 0039 has the reasons; ``docs/finops-budgets.md`` the use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any, Literal

from alignops.anomaly.impact import EXACT
from alignops.errors import InputError
from alignops.finops.budgets_forecast import RemainingForecast, forecast_remaining
from alignops.finops.budgets_notice import budget_notification
from alignops.finops.queries import COST_METRICS, filtered
from alignops.manifests.kinds.budget import Budget

if TYPE_CHECKING:
    from alignops.audit.log import AuditLog
    from alignops.finops.engine import LedgerEngine
    from alignops.manifests.snapshot import Snapshot
    from alignops.notify.notifier import Notifier

__all__ = [
    "HISTORY_DAYS",
    "BudgetStatus",
    "BurnPoint",
    "ForecastPoint",
    "ThresholdStatus",
    "budget_period",
    "budgets_of",
    "evaluate_budgets",
]

Basis = Literal["actual", "forecast"]

HISTORY_DAYS = 365
"""Days of a scope's daily cost (ending on the ledger's last day) a forecast learns from."""


@dataclass(frozen=True)
class BurnPoint:
    """Spend of the period from its first day through ``day`` (cumulative)."""

    day: date
    actual: Decimal


@dataclass(frozen=True)
class ForecastPoint:
    """Forecast spend of the period through ``day`` (cumulative, actual included): the
    mean and the bounds of the 80 % and 95 % intervals."""

    day: date
    mean: Decimal
    lo80: Decimal
    hi80: Decimal
    lo95: Decimal
    hi95: Decimal


@dataclass(frozen=True)
class ThresholdStatus:
    """One threshold of a budget in the period: reached or not, and when it fired."""

    percent: float
    basis: Basis
    limit: Decimal
    """``percent`` × the budget's amount."""
    reached: bool
    fired_at: datetime | None
    """When it fired in this period (``None``: not yet)."""
    fired_now: bool
    """It fired in this evaluation (a notification was enqueued now)."""
    value: Decimal | None
    """Spend (or forecast) when it fired."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "percent": self.percent,
            "basis": self.basis,
            "limit": str(self.limit),
            "reached": self.reached,
            "firedAt": self.fired_at.isoformat() if self.fired_at else None,
            "firedNow": self.fired_now,
            "value": None if self.value is None else str(self.value),
        }


@dataclass(frozen=True)
class BudgetStatus:
    """A budget in its current period: what a table row and a burn-down chart need."""

    budget: str
    scope: dict[str, str]
    currency: str
    amount: Decimal
    period: str
    """``monthly``, ``quarterly`` or ``yearly``."""
    period_label: str
    """``2026-03``, ``2026-Q1``, ``2026``."""
    period_start: date
    period_end: date
    """The day after the period (exclusive)."""
    today: date
    data_through: date | None
    """The ledger's last day of data up to ``today`` (``None``: none before ``today``)."""
    actual: Decimal
    daily: tuple[BurnPoint, ...]
    """Cumulative actual per day, from the period's first day through ``data_through``."""
    forecast: Decimal
    """Forecast spend at the end of the period (mean; equals ``actual`` when no day is
    left)."""
    forecast_points: tuple[ForecastPoint, ...]
    """Cumulative forecast per remaining day of the period."""
    forecast_method: str
    """``statsforecast``, ``run-rate`` (under 14 days of history), ``no-history``
    (nothing spent in the scope yet) or ``none`` (no day left)."""
    thresholds: tuple[ThresholdStatus, ...]
    other_currencies: dict[str, Decimal] = field(default_factory=dict)
    """Spend in the scope and period billed in other currencies (not counted)."""
    notifications: tuple[int, ...] = ()
    """Outbox rows written by this evaluation."""
    problems: tuple[str, ...] = ()
    """Routes a notification could not go to."""

    @property
    def used_percent(self) -> float:
        return float(self.actual / self.amount * 100)

    @property
    def forecast_percent(self) -> float:
        return float(self.forecast / self.amount * 100)

    @property
    def fired(self) -> tuple[ThresholdStatus, ...]:
        """The thresholds that fired in this period (now or before)."""
        return tuple(t for t in self.thresholds if t.fired_at is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "scope": self.scope,
            "currency": self.currency,
            "amount": str(self.amount),
            "period": self.period,
            "periodLabel": self.period_label,
            "periodStart": self.period_start.isoformat(),
            "periodEnd": self.period_end.isoformat(),
            "today": self.today.isoformat(),
            "dataThrough": self.data_through.isoformat() if self.data_through else None,
            "actual": str(self.actual),
            "usedPercent": round(self.used_percent, 2),
            "forecast": str(self.forecast),
            "forecastPercent": round(self.forecast_percent, 2),
            "forecastMethod": self.forecast_method,
            "thresholds": [t.to_dict() for t in self.thresholds],
            "daily": [{"day": p.day.isoformat(), "actual": str(p.actual)} for p in self.daily],
            "forecastDaily": [
                {
                    "day": p.day.isoformat(),
                    "mean": str(p.mean),
                    "lo80": str(p.lo80),
                    "hi80": str(p.hi80),
                    "lo95": str(p.lo95),
                    "hi95": str(p.hi95),
                }
                for p in self.forecast_points
            ],
            "otherCurrencies": {k: str(v) for k, v in self.other_currencies.items()},
            "notifications": list(self.notifications),
            "problems": list(self.problems),
        }


# -- periods and scopes -----------------------------------------------------------------


def budget_period(period: str, today: date) -> tuple[date, date, str]:
    """The UTC calendar period holding ``today``: first day, the day after the last, label."""
    if period == "monthly":
        start = today.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        return start, end, f"{start:%Y-%m}"
    if period == "quarterly":
        quarter = (today.month - 1) // 3
        start = date(today.year, 3 * quarter + 1, 1)
        end = date(today.year + 1, 1, 1) if quarter == 3 else date(today.year, start.month + 3, 1)
        return start, end, f"{today.year}-Q{quarter + 1}"
    if period == "yearly":
        return date(today.year, 1, 1), date(today.year + 1, 1, 1), str(today.year)
    raise InputError(f"unknown budget period {period!r}; expected monthly, quarterly or yearly")


def budgets_of(snapshot: Snapshot) -> list[Budget]:
    """The ``Budget`` resources of a snapshot (their scopes name governed dimensions: the
    kind refuses any other key with file, line and field when the snapshot loads)."""
    return [r.model for r in snapshot.of_kind("Budget") if isinstance(r.model, Budget)]


# -- evaluation -------------------------------------------------------------------------


def evaluate_budgets(
    engine: LedgerEngine,
    budgets: Sequence[Budget],
    *,
    notifier: Notifier | None,
    audit: AuditLog | None,
    today: date,
    metric: str = "EffectiveCost",
    fire: bool = True,
    now: datetime | None = None,
) -> list[BudgetStatus]:
    """Evaluate every budget in the period holding ``today`` (module docstring).

    Thresholds reached for the first time fire: recorded through ``engine.con`` (open the
    engine with ``read_only=False``), enqueued on ``notifier`` (not dispatched: the caller
    does), audited on ``audit`` — without a notifier they still fire, and nobody is
    told. ``fire=False`` only reads (reports, charts, a read-only
    ledger): nothing is written and no threshold fires. ``now``: the time recorded
    (default: the clock). Raises :class:`~alignops.errors.InputError` for an unknown metric, before
    anything is written.
    """
    if metric not in COST_METRICS:
        raise InputError(f"unknown cost metric {metric!r}; expected one of {COST_METRICS}")
    if not budgets:
        return []
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    through = _data_through(engine, today)
    plans = [_Plan.of(budget, today, through) for budget in budgets]
    with localcontext(EXACT):  # sums of DECIMAL(38, 18) amounts stay exact
        spends = {plan.budget.name: _spend(engine, plan, metric) for plan in plans}
        forecasts = forecast_remaining(
            {name: spend.history for name, spend in spends.items()},
            first={p.budget.name: p.forecast_start for p in plans},
            last={p.budget.name: p.period_end - timedelta(days=1) for p in plans},
            through=through,
        )
        statuses = []
        for plan in plans:
            spend, remaining = spends[plan.budget.name], forecasts[plan.budget.name]
            status = _status(plan, spend, remaining, _fired(engine, plan))
            if fire:
                status = _fire(engine, status, plan, notifier=notifier, audit=audit, now=moment)
            statuses.append(status)
    return statuses


@dataclass(frozen=True)
class _Plan:
    """What to read for one budget."""

    budget: Budget
    today: date
    period_start: date
    period_end: date
    label: str
    through: date | None
    """The last day counted as actual (``None``: the ledger has nothing up to today)."""

    @classmethod
    def of(cls, budget: Budget, today: date, through: date | None) -> _Plan:
        start, end, label = budget_period(budget.spec.period, today)
        return cls(budget, today, start, end, label, through)

    @property
    def forecast_start(self) -> date:
        """The first day to forecast: the day after the data, at the earliest the period's
        first day."""
        if self.through is None:
            return self.period_start
        return max(self.through + timedelta(days=1), self.period_start)

    @property
    def key(self) -> str:
        return f"budget:{self.budget.name}:{self.period_start.isoformat()}"


@dataclass(frozen=True)
class _Spend:
    """One budget's daily spend: in the period (by day) and as forecast history."""

    period: dict[date, Decimal]
    history: list[tuple[date, Decimal]]
    """Daily cost from the scope's first day of spend (at most :data:`HISTORY_DAYS` back)
    through the data's last day, missing days as zero."""
    other: dict[str, Decimal]


def _data_through(engine: LedgerEngine, today: date) -> date | None:
    """The latest charge day up to ``today``: how fresh the ledger is."""
    charges = filtered(engine.charges(), end=today + timedelta(days=1))
    frame = engine.execute(charges.aggregate(last=charges.ChargePeriodStart.max()))
    last = frame["last"].iloc[0] if len(frame) else None
    if last is None or last != last:  # None or NaT
        return None
    return _as_date(last)


def _spend(engine: LedgerEngine, plan: _Plan, metric: str) -> _Spend:
    if plan.through is None:
        return _Spend({}, [], {})
    history_start = plan.through - timedelta(days=HISTORY_DAYS - 1)
    charges = filtered(
        engine.charges(),
        start=min(plan.period_start, history_start),
        end=plan.through + timedelta(days=1),
        scope={str(k): v for k, v in plan.budget.spec.scope.tags.items()},
    )
    keys = [
        charges.ChargePeriodStart.date().name("day"),
        charges.BillingCurrency.name("currency"),
    ]
    frame = engine.execute(charges.group_by(keys).aggregate(cost=charges[metric].sum()))
    currency = plan.budget.spec.currency
    daily: dict[date, Decimal] = {}
    other: dict[str, Decimal] = {}
    for day_value, billed_in, cost in zip(
        frame["day"], frame["currency"], frame["cost"], strict=True
    ):
        day = _as_date(day_value)
        amount = _money(cost)
        if billed_in == currency:
            daily[day] = daily.get(day, Decimal(0)) + amount
        elif day >= plan.period_start:
            name = billed_in if isinstance(billed_in, str) else "(none)"
            other[name] = other.get(name, Decimal(0)) + amount
    period = {d: c for d, c in daily.items() if d >= plan.period_start}
    history = []
    spent = sorted(d for d, c in daily.items() if d >= history_start and c != 0)
    if spent:
        day = spent[0]
        while day <= plan.through:
            history.append((day, daily.get(day, Decimal(0))))
            day += timedelta(days=1)
    return _Spend(period, history, dict(sorted(other.items())))


def _fired(engine: LedgerEngine, plan: _Plan) -> dict[tuple[float, str], tuple[datetime, Decimal]]:
    """The thresholds of ``plan``'s budget that fired in its period: when, at what value."""
    rows = engine.con.execute(
        "SELECT percent, basis, fired_at, amount FROM budget_events "
        "WHERE budget = ? AND period_start = ?",
        [plan.budget.name, plan.period_start],
    ).fetchall()
    return {
        (float(percent), str(basis)): (moment.replace(tzinfo=UTC), _money(amount))
        for percent, basis, moment, amount in rows
    }


def _status(
    plan: _Plan,
    spend: _Spend,
    remaining: RemainingForecast,
    fired: Mapping[tuple[float, str], tuple[datetime, Decimal]],
) -> BudgetStatus:
    spec = plan.budget.spec
    daily: list[BurnPoint] = []
    total = Decimal(0)
    if plan.through is not None and plan.through >= plan.period_start:
        day = plan.period_start
        while day <= min(plan.through, plan.period_end - timedelta(days=1)):
            total += spend.period.get(day, Decimal(0))
            daily.append(BurnPoint(day, total))
            day += timedelta(days=1)
    points = []
    sums = [Decimal(0)] * 5
    for day, values in remaining.days:
        if plan.period_start <= day < plan.period_end:
            sums = [s + v for s, v in zip(sums, values, strict=True)]
            points.append(ForecastPoint(day, *(total + s for s in sums)))
    forecast = points[-1].mean if points else total
    thresholds = []
    seen: set[tuple[float, str]] = set()
    for threshold in sorted(spec.thresholds, key=lambda t: (t.percent, t.basis != "forecast")):
        if (float(threshold.percent), threshold.basis) in seen:
            continue  # written twice: one threshold
        seen.add((float(threshold.percent), threshold.basis))
        limit = _limit(spec.amount, threshold.percent)
        value = total if threshold.basis == "actual" else forecast
        when = fired.get((float(threshold.percent), threshold.basis))
        thresholds.append(
            ThresholdStatus(
                percent=float(threshold.percent),
                basis=threshold.basis,
                limit=limit,
                reached=value >= limit,
                fired_at=when[0] if when else None,
                fired_now=False,
                value=when[1] if when else None,
            )
        )
    return BudgetStatus(
        budget=plan.budget.name,
        scope={str(k): v for k, v in spec.scope.tags.items()},
        currency=spec.currency,
        amount=spec.amount,
        period=spec.period,
        period_label=plan.label,
        period_start=plan.period_start,
        period_end=plan.period_end,
        today=plan.today,
        data_through=plan.through,
        actual=total,
        daily=tuple(daily),
        forecast=forecast,
        forecast_points=tuple(points),
        forecast_method=remaining.method if points else "none",
        thresholds=tuple(thresholds),
        other_currencies=spend.other,
    )


def _fire(
    engine: LedgerEngine,
    status: BudgetStatus,
    plan: _Plan,
    *,
    notifier: Notifier | None,
    audit: AuditLog | None,
    now: datetime,
) -> BudgetStatus:
    """Fire the thresholds reached and not fired yet in the period, lowest first.

    Order per threshold: enqueue (idempotent on the dedup key), audit, record. A crash
    between two steps re-runs them on the next evaluation: the outbox never sends twice,
    the audit record may repeat (with the same ``key``), nothing is lost.
    """
    thresholds = []
    written: list[int] = []
    problems: list[str] = []
    for threshold in status.thresholds:
        if not threshold.reached or threshold.fired_at is not None:
            thresholds.append(threshold)
            continue
        value = status.actual if threshold.basis == "actual" else status.forecast
        key = f"{plan.key}:{threshold.percent:g}:{threshold.basis}"
        notification = budget_notification(status, threshold, value, dedup_key=key)
        sent: dict[str, Any] = {"notifications": [], "unrouted": []}
        if notifier is not None:
            enqueued = notifier.enqueue(notification, routes=plan.budget.spec.routes)
            written += enqueued
            problems += [f"Budget/{status.budget}: {p}" for p in enqueued.problems]
            sent = {
                "notifications": list(enqueued) + list(enqueued.existing),
                "unrouted": [str(p) for p in enqueued.problems],
            }
        if audit is not None:
            audit.append(
                "budget.threshold",
                f"Budget/{status.budget}",
                _audit_payload(status, threshold, value, key, sent),
                now=now,
            )
        engine.con.execute(
            "INSERT INTO budget_events (budget, period_start, percent, basis, amount, "
            "budget_amount, fired_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                status.budget,
                status.period_start,
                threshold.percent,
                threshold.basis,
                _ledger_money(value),
                _ledger_money(status.amount),
                now.replace(tzinfo=None),
            ],
        )
        thresholds.append(
            ThresholdStatus(
                percent=threshold.percent,
                basis=threshold.basis,
                limit=threshold.limit,
                reached=True,
                fired_at=now,
                fired_now=True,
                value=value,
            )
        )
    return replace(
        status,
        thresholds=tuple(thresholds),
        notifications=tuple(written),
        problems=tuple(problems),
    )


def _audit_payload(
    status: BudgetStatus,
    threshold: ThresholdStatus,
    value: Decimal,
    key: str,
    sent: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "key": key,
        "budget": status.budget,
        "period": status.period_label,
        "periodStart": status.period_start.isoformat(),
        "percent": threshold.percent,
        "basis": threshold.basis,
        "value": str(value),
        "limit": str(threshold.limit),
        "amount": str(status.amount),
        "currency": status.currency,
        "actual": str(status.actual),
        "forecast": str(status.forecast),
        "scope": status.scope,
        "dataThrough": status.data_through.isoformat() if status.data_through else None,
        **sent,
    }


# -- numbers ----------------------------------------------------------------------------

_QUANTUM = Decimal(1).scaleb(-18)


def _limit(amount: Decimal, percent: float) -> Decimal:
    """``percent`` % of ``amount``, exactly (the percent as written: 33.3 is 33.3)."""
    return amount * Decimal(repr(float(percent))) / 100


def _money(value: object) -> Decimal:
    """A sum from the engine as a Decimal (``None`` or NaN: no charge, zero)."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value if value.is_finite() else Decimal(0)
    number = float(value)  # type: ignore[arg-type]
    return Decimal(0) if number != number else Decimal(repr(number))


def _ledger_money(value: Decimal) -> Decimal:
    """A value as ``DECIMAL(38, 18)`` stores it (a forecast has more digits)."""
    return value.quantize(_QUANTUM)


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    to_pydatetime = getattr(value, "to_pydatetime", None)
    if to_pydatetime is not None:
        moment = to_pydatetime()
        assert isinstance(moment, datetime)
        return moment.date()
    raise TypeError(f"not a day: {value!r}")

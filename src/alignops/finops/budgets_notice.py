"""The notification a budget threshold sends (kind ``budget``).

Severity by the threshold's percent: under 80 ``info``, under 100 ``warning``, from 100
``critical``. Fields: budget, scope, amount, spend, forecast, percent, period; labels:
``budget``, ``basis``, ``severity``, ``period`` and the scope's dimensions (so an
``AlertRoute``'s ``match.labels`` can take, say, every budget of ``team: risk``). Money
is shown to the cent; ``details`` keeps it exact.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from alignops.notify.notification import Notification, Severity

if TYPE_CHECKING:
    from alignops.finops.budgets import BudgetStatus, ThresholdStatus

__all__ = ["budget_notification", "budget_severity", "cents", "scope_text"]


def budget_severity(percent: float) -> Severity:
    """``info`` under 80 %, ``warning`` under 100 %, ``critical`` from 100 %."""
    if percent < 80:
        return "info"
    if percent < 100:
        return "warning"
    return "critical"


def cents(value: Decimal, currency: str) -> str:
    """``1,234.57 USD``: money rounded to the cent for people (half to even)."""
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,.2f} {currency}"


def scope_text(scope: dict[str, str]) -> str:
    """``team=risk, env=production``, or ``all costs`` for an empty scope."""
    return ", ".join(f"{k}={v}" for k, v in sorted(scope.items())) or "all costs"


def budget_notification(
    status: BudgetStatus, threshold: ThresholdStatus, value: Decimal, *, dedup_key: str
) -> Notification:
    """The notice for ``threshold`` of ``status`` reached at ``value`` (spend or forecast)."""
    currency = status.currency
    amount = cents(status.amount, currency)
    percent = f"{threshold.percent:g} %"
    last_day = status.period_end - timedelta(days=1)
    used = float(status.actual / status.amount * 100)
    expected = float(status.forecast / status.amount * 100)
    if threshold.basis == "actual":
        title = (
            f"Budget {status.budget}: {percent} of {amount} spent in {status.period_label} "
            f"({cents(value, currency)})"
        )
    else:
        title = (
            f"Budget {status.budget}: forecast to reach {percent} of {amount} in "
            f"{status.period_label} ({cents(value, currency)} by {last_day.isoformat()})"
        )
    final = status.forecast_points[-1] if status.forecast_points else None
    forecast = f"{cents(status.forecast, currency)} ({expected:.1f} %) by {last_day.isoformat()}"
    interval = ""
    if final is not None:
        interval = f", 80 % interval {cents(final.lo80, currency)} – {cents(final.hi80, currency)}"
    through = status.data_through.isoformat() if status.data_through else "no data yet"
    text = (
        f"**{cents(status.actual, currency)}** of **{amount}** spent in "
        f"{status.period_label} ({used:.1f} %) by {scope_text(status.scope)}, "
        f"through {through}.\n\nForecast for the period: **{forecast}**{interval}."
    )
    labels = {
        **{k: v for k, v in status.scope.items()},
        "budget": status.budget,
        "basis": threshold.basis,
        "severity": budget_severity(threshold.percent),
        "period": status.period_label,
    }
    return Notification(
        kind="budget",
        title=title,
        severity=budget_severity(threshold.percent),
        fields={
            "budget": status.budget,
            "scope": scope_text(status.scope),
            "amount": amount,
            "spend": f"{cents(status.actual, currency)} ({used:.1f} %)",
            "forecast": forecast,
            "percent": f"{percent} ({threshold.basis})",
            "period": (
                f"{status.period_label} ({status.period_start.isoformat()} – "
                f"{last_day.isoformat()})"
            ),
        },
        labels=labels,
        dedup_key=dedup_key,
        text=text,
        details=_details(status, threshold, value),
    )


def _details(status: BudgetStatus, threshold: ThresholdStatus, value: Decimal) -> dict[str, Any]:
    final = status.forecast_points[-1] if status.forecast_points else None
    return {
        "budget": status.budget,
        "scope": status.scope,
        "period": status.period_label,
        "periodStart": status.period_start.isoformat(),
        "periodEnd": status.period_end.isoformat(),
        "percent": threshold.percent,
        "basis": threshold.basis,
        "limit": str(threshold.limit),
        "value": str(value),
        "amount": str(status.amount),
        "currency": status.currency,
        "actual": str(status.actual),
        "forecast": str(status.forecast),
        "forecastInterval80": [str(final.lo80), str(final.hi80)] if final else None,
        "forecastInterval95": [str(final.lo95), str(final.hi95)] if final else None,
        "forecastMethod": status.forecast_method,
        "dataThrough": status.data_through.isoformat() if status.data_through else None,
    }

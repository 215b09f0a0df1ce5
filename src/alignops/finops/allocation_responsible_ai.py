"""The responsible-AI view of an allocation: per model, what its explainability, fairness
audits, drift monitoring and performance evaluation cost, and their share of the model's
total (serving, cloud charges and evidence alike).

Read from an :class:`AllocationReport` by ``model`` and ``activity`` (after the rules),
so its cents are the report's cents and add up the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from typing import Any

from alignops.errors import UsageError
from alignops.finops.allocation import AllocationReport

__all__ = ["RESPONSIBLE_AI_ACTIVITIES", "ActivityCost", "ModelActivities", "responsible_ai_view"]

RESPONSIBLE_AI_ACTIVITIES = (
    "explainability",
    "fairness-audit",
    "drift-monitoring",
    "performance-evaluation",
)
"""The ``x_Activity`` values of evidence jobs (``alignops.evidence.checks``)."""


@dataclass(frozen=True, slots=True)
class ActivityCost:
    """What one responsible-AI activity of one model cost in one window."""

    activity: str
    amount: Decimal
    cents: Decimal
    share: Decimal | None
    """Of the model's total in the window (None when that total is zero or less)."""


@dataclass(frozen=True, slots=True)
class ModelActivities:
    """One model in one window and currency: its total and its responsible-AI costs."""

    window: date | None
    model: str
    currency: str | None
    total: Decimal
    total_cents: Decimal
    activities: tuple[ActivityCost, ...]
    """One per :data:`RESPONSIBLE_AI_ACTIVITIES`, in that order (zero where none)."""

    @property
    def responsible_ai(self) -> ActivityCost:
        """All four activities together."""
        amount = sum((a.amount for a in self.activities), Decimal(0))
        cents = sum((a.cents for a in self.activities), Decimal(0))
        return ActivityCost("responsible-ai", amount, cents, _share(amount, self.total))

    def to_dict(self, window_end: date | None) -> dict[str, Any]:
        every = (*self.activities, self.responsible_ai)
        return {
            "windowStart": None if self.window is None else self.window.isoformat(),
            "windowEnd": None if window_end is None else window_end.isoformat(),
            "model": self.model,
            "currency": self.currency,
            "total": f"{self.total_cents:.2f}",
            "totalExact": _exact(self.total),
            "activities": {
                a.activity: {
                    "cost": f"{a.cents:.2f}",
                    "costExact": _exact(a.amount),
                    "share": None if a.share is None else f"{a.share:.6f}",
                }
                for a in every
            },
        }


def responsible_ai_view(report: AllocationReport) -> list[ModelActivities]:
    """Per window, currency and model (allocated to a model): the cost of each
    responsible-AI activity and its share of the model's total."""
    if "model" not in report.by or "activity" not in report.by:
        raise UsageError("the responsible-AI view needs a report by model and activity")
    m, a = report.by.index("model"), report.by.index("activity")
    totals: dict[tuple[date | None, str | None, str], list[Decimal]] = {}
    costs: dict[tuple[date | None, str | None, str, str], list[Decimal]] = {}
    for line in report.lines:
        model = line.values[m]
        if model is None:
            continue
        key = (line.window, line.currency, model)
        _add(totals.setdefault(key, [Decimal(0), Decimal(0)]), line.amount, line.cents)
        activity = line.values[a]
        if activity in RESPONSIBLE_AI_ACTIVITIES:
            _add(
                costs.setdefault((*key, activity), [Decimal(0), Decimal(0)]),
                line.amount,
                line.cents,
            )
    view = []
    for (window, currency, model), (total, total_cents) in sorted(totals.items(), key=_order):
        activities = []
        for activity in RESPONSIBLE_AI_ACTIVITIES:
            amount, cents = costs.get((window, currency, model, activity), (Decimal(0),) * 2)
            activities.append(ActivityCost(activity, amount, cents, _share(amount, total)))
        view.append(ModelActivities(window, model, currency, total, total_cents, tuple(activities)))
    return view


def _add(pair: list[Decimal], amount: Decimal, cents: Decimal) -> None:
    pair[0] += amount
    pair[1] += cents


def _share(amount: Decimal, total: Decimal) -> Decimal | None:
    if total <= 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 60
        return amount / total


def _order(item: tuple[tuple[date | None, str | None, str], Any]) -> tuple[Any, ...]:
    (window, currency, model), _ = item
    return (window is None, window or date.min, currency or "", model)


def _exact(amount: Decimal) -> str:
    with localcontext() as ctx:
        ctx.prec = 80
        return format(amount.normalize(), "f") if amount else "0"

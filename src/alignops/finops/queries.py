"""Ledger queries shared by reports, budgets, anomalies and forecasts (Ibis expressions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import TYPE_CHECKING

from alignops.errors import UsageError
from alignops.finops.engine import LedgerEngine
from alignops.finops.ledger import DIMENSION_COLUMNS

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

__all__ = ["COST_METRICS", "daily_costs", "dimension_column", "filtered"]

COST_METRICS = ("EffectiveCost", "BilledCost", "ListCost")


def dimension_column(name: str) -> str:
    """The ``charges`` column of a governed dimension (``team`` → ``x_Team``)."""
    try:
        return DIMENSION_COLUMNS[name]
    except KeyError:
        known = ", ".join(DIMENSION_COLUMNS)
        raise UsageError(f"unknown dimension {name!r}; expected one of {known}") from None


def filtered(
    charges: ir.Table,
    *,
    start: date | None = None,
    end: date | None = None,
    scope: Mapping[str, str] | None = None,
) -> ir.Table:
    """Charges whose period starts in ``[start, end)`` and whose dimensions equal ``scope``."""
    if start is not None:
        charges = charges.filter(charges.ChargePeriodStart >= datetime.combine(start, time()))
    if end is not None:
        charges = charges.filter(charges.ChargePeriodStart < datetime.combine(end, time()))
    for dimension, value in (scope or {}).items():
        charges = charges.filter(charges[dimension_column(dimension)] == value)
    return charges


def daily_costs(
    engine: LedgerEngine,
    *,
    by: Sequence[str] = (),
    start: date | None = None,
    end: date | None = None,
    scope: Mapping[str, str] | None = None,
    metric: str = "EffectiveCost",
) -> pd.DataFrame:
    """Cost per UTC day (of ``ChargePeriodStart``) and per value of each ``by`` dimension.

    Columns: ``day`` (a ``datetime.date``), one per dimension named as given (``None``:
    no value), ``cost`` (``Decimal``); sorted by day then dimensions.
    """
    if metric not in COST_METRICS:
        raise UsageError(f"unknown cost metric {metric!r}; expected one of {COST_METRICS}")
    charges = filtered(engine.charges(), start=start, end=end, scope=scope)
    keys = [charges.ChargePeriodStart.date().name("day")]
    keys += [charges[dimension_column(d)].name(d) for d in by]
    expr = charges.group_by(keys).aggregate(cost=charges[metric].sum())
    frame = engine.execute(expr.order_by([k.get_name() for k in keys]))
    frame["day"] = [
        d if isinstance(d, date) and not isinstance(d, datetime) else d.date() for d in frame["day"]
    ]
    return frame

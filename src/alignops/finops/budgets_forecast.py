"""The forecast part of a budget: each remaining day of the period, mean and intervals.

One series per budget (its scope's daily cost in its currency, from the first day with
spend, at most a year back, through the ledger's last day) goes to
:func:`alignops.finops.forecast.forecast_daily` — the same forecast as ``alignops cost
forecast``, so a budget and the forecast report never disagree. That function picks the
model by history (decision 0040): MSTL with an ETS trend from 14 days, AutoETS on 8–13,
the mean day with Student-t intervals on 1–7 (a run-rate), the amount itself for a flat
series. A scope with no spend at all is forecast to spend nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

__all__ = ["LEVELS", "RemainingForecast", "forecast_remaining"]

LEVELS = (80, 95)
"""Interval levels of a budget's forecast, in percent."""

Day = tuple[date, tuple[Decimal, Decimal, Decimal, Decimal, Decimal]]


@dataclass(frozen=True)
class RemainingForecast:
    """Forecast spend of each remaining day (not cumulative): mean, lo-80, hi-80, lo-95,
    hi-95; ``method`` is the forecast's model, ``no-history`` or ``none`` (no day left)."""

    method: str
    days: tuple[Day, ...]


def forecast_remaining(
    histories: Mapping[str, Sequence[tuple[date, Decimal]]],
    *,
    first: Mapping[str, date],
    last: Mapping[str, date],
    through: date | None,
) -> dict[str, RemainingForecast]:
    """For each series name: the forecast of every day from ``first`` to ``last``
    (inclusive) given its ``history`` (daily cost, complete through ``through``)."""
    out: dict[str, RemainingForecast] = {}
    wanted: dict[str, tuple[date, date]] = {}
    for name, history in histories.items():
        start, end = first[name], last[name]
        if start > end:
            out[name] = RemainingForecast("none", ())
        elif not history or through is None:
            zero = (Decimal(0),) * 5
            days = tuple((start + timedelta(days=i), zero) for i in range((end - start).days + 1))
            out[name] = RemainingForecast("no-history", days)
        else:
            wanted[name] = (start, end)
    if not wanted:
        return out
    import pandas as pd

    from alignops.finops.forecast import forecast_daily

    frame = pd.DataFrame(
        [(name, day, cost) for name in wanted for day, cost in histories[name]],
        columns=["unique_id", "day", "cost"],
    )
    result = forecast_daily(
        frame, until=max(end for _, end in wanted.values()), levels=LEVELS, through=through
    )
    rows: dict[str, list[Day]] = {name: [] for name in wanted}
    methods: dict[str, str] = {}
    columns = ["mean", "lo-80", "hi-80", "lo-95", "hi-95"]
    for values in result.to_dict("records"):
        name = str(values["unique_id"])
        start, end = wanted[name]
        day = values["day"]
        if start <= day <= end:
            mean, lo80, hi80, lo95, hi95 = (_decimal(values[c]) for c in columns)
            rows[name].append((day, (mean, lo80, hi80, lo95, hi95)))
            methods[name] = str(values["model"])
    for name in wanted:
        out[name] = RemainingForecast(methods.get(name, "none"), tuple(rows[name]))
    return out


def _decimal(value: float) -> Decimal:
    """A forecast float as a Decimal through its shortest repr (0.1 → Decimal("0.1"))."""
    return Decimal(repr(float(value)))

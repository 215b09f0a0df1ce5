"""Root cause of a change in a total: which values of which dimensions moved it.

:func:`root_cause` takes the rows of the anomalous period (a day of cost records, say)
and the rows of the baseline periods, each row a mapping (or a numpy structured-array
record) of dimension values and an amount. For every dimension (service, account, region,
a tag column …) it sums the amount per dimension value in both, and ranks the values by
their contribution to the change of the total:

- ``baseline`` of a value: its sum over the baseline rows divided by the number of
  baseline periods (the distinct values of the ``period`` column, or 1 without one) —
  the mean per period, so that the contributions of a dimension's values add up to the
  change of the total (a median per value would not) — exactly, or to 60 significant
  digits when a Decimal sum does not divide evenly by the number of periods;
- ``delta``: current − baseline; ``share``: delta / the total's delta (the shares of a
  dimension add up to 1; a value that moved against the total has a negative share, one
  that moved more than the total a share above 1); ``percent``: delta / baseline × 100,
  ``None`` for a value that is new;
- ranking: by delta in the direction of the total's change, largest first (for a rise,
  the biggest increases; for a fall, the biggest decreases), then by value name.

A row whose dimension is missing, None or NaN counts under the value ``None`` (untagged).
Amounts are exact: Decimal when every amount is a Decimal or an int, float otherwise.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

import numpy as np

from alignops.anomaly.impact import EXACT, Amount
from alignops.errors import InputError

__all__ = ["Contribution", "RootCause", "root_cause"]


@dataclass(frozen=True)
class Contribution:
    """How much one value of one dimension moved the total."""

    dimension: str
    key: str | None
    current: Amount
    baseline: Amount
    delta: Amount
    share: float | None
    percent: float | None


@dataclass(frozen=True)
class RootCause:
    """The total's change and, per dimension, its values ranked culprit first."""

    current: Amount
    baseline: Amount
    delta: Amount
    percent: float | None
    dimensions: dict[str, tuple[Contribution, ...]]

    @property
    def top(self) -> tuple[Contribution, ...]:
        """The first-ranked value of each dimension, largest share first."""
        firsts = [ranked[0] for ranked in self.dimensions.values() if ranked]
        return tuple(sorted(firsts, key=lambda c: -(c.share or 0.0)))


Row = Mapping[str, Any] | np.void


def root_cause(
    rows: Iterable[Row],
    *,
    dimensions: Sequence[str],
    value: str,
    baseline_rows: Iterable[Row],
    period: str | None = None,
) -> RootCause:
    """Rank each dimension's values by their part in the change from baseline to ``rows``.

    ``value`` names the amount column; ``period`` the column telling baseline periods apart
    (the baseline is then the mean per period). Raises :class:`~alignops.errors.InputError`
    naming the row and column of a missing or non-numeric amount, or a dimension no row has.
    """
    if isinstance(dimensions, str) or not dimensions:
        raise InputError("root_cause: dimensions: expected a non-empty list of column names")
    current = _read("rows", rows, dimensions, value, None)
    before = _read("baseline_rows", baseline_rows, dimensions, value, period)
    for dimension in dimensions:
        if not current.seen[dimension] and not before.seen[dimension]:
            raise InputError(f"root_cause: dimensions: no row has a column {dimension!r}")

    exact = all(isinstance(a, Decimal | int) for a in (*current.amounts, *before.amounts))
    periods = max(len(before.periods), 1) if period is not None else 1
    total_now = _sum(current.amounts, exact)
    total_then = _mean(_sum(before.amounts, exact), periods)
    total_delta = _minus(total_now, total_then)
    ranked = {
        dimension: _rank(dimension, current, before, periods, exact, total_delta)
        for dimension in dimensions
    }
    return RootCause(
        current=total_now,
        baseline=total_then,
        delta=total_delta,
        percent=_percent(total_delta, total_then),
        dimensions=ranked,
    )


@dataclass
class _Rows:
    """Amounts of a set of rows, and their keys per dimension."""

    amounts: list[Amount | int]
    keys: dict[str, list[str | None]]
    seen: dict[str, bool]
    periods: set[object]


def _read(
    name: str, rows: Iterable[Row], dimensions: Sequence[str], value: str, period: str | None
) -> _Rows:
    out = _Rows([], {d: [] for d in dimensions}, dict.fromkeys(dimensions, False), set())
    for index, row in enumerate(rows):
        where = f"root_cause: {name}[{index}]"
        present, amount = _field(row, value)
        if not present:
            raise InputError(f"{where}: {value}: missing")
        out.amounts.append(_number(where, value, amount))
        for dimension in dimensions:
            present, key = _field(row, dimension)
            out.seen[dimension] = out.seen[dimension] or present
            out.keys[dimension].append(_key(key))
        if period is not None:
            present, when = _field(row, period)
            if not present:
                raise InputError(f"{where}: {period}: missing")
            out.periods.add(when.item() if isinstance(when, np.generic) else when)
    return out


def _field(row: Row, name: str) -> tuple[bool, Any]:
    if isinstance(row, np.void):
        names = row.dtype.names or ()
        return (True, row[name]) if name in names else (False, None)
    if isinstance(row, Mapping):
        return (True, row[name]) if name in row else (False, None)
    raise InputError(f"root_cause: expected rows as mappings or structured records, got {row!r}")


def _number(where: str, column: str, amount: object) -> Amount | int:
    if isinstance(amount, Decimal) and amount.is_finite():
        return amount
    if isinstance(amount, numbers.Integral) and not isinstance(amount, bool):
        return int(amount)
    if isinstance(amount, numbers.Real) and not isinstance(amount, bool):
        number = float(amount)
        if math.isfinite(number):
            return number
    raise InputError(f"{where}: {column}: expected a finite number, got {amount!r}")


def _key(key: object) -> str | None:
    if key is None or (isinstance(key, float | np.floating) and math.isnan(key)):
        return None
    return str(key.item() if isinstance(key, np.generic) else key)


def _rank(
    dimension: str,
    current: _Rows,
    before: _Rows,
    periods: int,
    exact: bool,
    total_delta: Amount,
) -> tuple[Contribution, ...]:
    now = _group(current.keys[dimension], current.amounts)
    then = _group(before.keys[dimension], before.amounts)
    contributions = []
    for key in now.keys() | then.keys():
        amount_now = _sum(now.get(key, []), exact)
        amount_then = _mean(_sum(then.get(key, []), exact), periods)
        delta = _minus(amount_now, amount_then)
        contributions.append(
            Contribution(
                dimension=dimension,
                key=key,
                current=amount_now,
                baseline=amount_then,
                delta=delta,
                share=None if total_delta == 0 else _ratio(delta, total_delta),
                percent=_percent(delta, amount_then),
            )
        )
    sign = -1.0 if total_delta < 0 else 1.0
    if total_delta == 0:
        contributions.sort(key=lambda c: (-abs(float(c.delta)), c.key or ""))
    else:
        contributions.sort(key=lambda c: (-sign * float(c.delta), c.key or ""))
    return tuple(contributions)


def _group(keys: list[str | None], amounts: list[Amount | int]) -> dict[str | None, list[Any]]:
    groups: dict[str | None, list[Any]] = {}
    for key, amount in zip(keys, amounts, strict=True):
        groups.setdefault(key, []).append(amount)
    return groups


def _sum(amounts: Iterable[Amount | int], exact: bool) -> Amount:
    if exact:
        with localcontext(EXACT):
            return sum((Decimal(a) for a in amounts), Decimal(0))
    return math.fsum(float(a) for a in amounts)


def _mean(total: Amount, periods: int) -> Amount:
    if periods == 1:
        return total
    if isinstance(total, Decimal):
        with localcontext(EXACT):
            return total / periods
    return total / periods


def _minus(a: Amount, b: Amount) -> Amount:
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        with localcontext(EXACT):
            return a - b
    return float(a) - float(b)


def _ratio(a: Amount, b: Amount) -> float:
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        with localcontext(EXACT):
            return float(a / b)
    return float(a) / float(b)


def _percent(delta: Amount, baseline: Amount) -> float | None:
    if baseline == 0:
        return None
    return _ratio(delta, baseline) * (100.0 if baseline > 0 else -100.0)

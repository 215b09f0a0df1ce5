"""Allocation: cost per window and per value of the governed dimensions, with the rules
for untagged and shared costs applied, conserved to the cent (decision 0038).

1. ONE Ibis expression, run on the engine (DuckDB or Spark), sums the cost metric of the
   charges per window start, value of each ``by`` dimension, and currency;
2. the rules of ``finops.allocation`` run in Python on that small aggregate, in exact
   integers of 10⁻¹⁸ (the ledger's scale): a cost split three ways gives three amounts
   that add up to it exactly (largest remainder at the 18th decimal);
3. every line is presented to the cent with largest-remainder rounding per window and
   currency, so Σ allocated + unallocated = the window's total rounded to the cent.

A rule splits the cost of a dimension's *untagged* rows (no value) and of its *shared*
values (``shared``, ``platform``) over that dimension's other values, within the same
window and currency: over the values charged with every value the cost has in the other
``by`` dimensions (the models of its team, say); where there are none, over every value
of the window. Rules run in the order they are written; a line with no value in some
``by`` dimension is *unallocated*.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from functools import cached_property
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from alignops.errors import UsageError
from alignops.finops.allocation_rules import check_rules
from alignops.finops.queries import COST_METRICS, dimension_column, filtered
from alignops.manifests.config import AllocationRule

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from alignops.finops.engine import LedgerEngine

__all__ = [
    "WINDOWS",
    "AggregateRow",
    "AllocationLine",
    "AllocationReport",
    "Window",
    "WindowTotal",
    "aggregate_expression",
    "allocate",
    "allocate_aggregate",
    "window_end",
]

Window = Literal["day", "week", "month", "total"]
WINDOWS: tuple[Window, ...] = ("day", "week", "month", "total")
_TRUNCATE = {"day": "D", "week": "W", "month": "M"}

SCALE = 18
"""Decimals of the ledger's money: amounts are handled as integers of 10⁻¹⁸."""
_ONE = 10**SCALE
_CENT = 10 ** (SCALE - 2)

Values = tuple[str | None, ...]
AggregateRow = tuple[date | None, Values, str | None, Decimal]
"""One row of the aggregate: window start, the ``by`` values, currency, cost."""


@dataclass(frozen=True, slots=True)
class AllocationLine:
    """The cost of one combination of ``by`` values in one window and currency."""

    window: date | None
    """First day of the window; for ``total``, the report's start (None: open)."""
    values: Values
    """One per ``by`` dimension; None where the cost has no value (unallocated)."""
    currency: str | None
    amount: Decimal
    """Exact, after the rules."""
    cents: Decimal
    """``amount`` to the cent, largest remainder within the window and currency."""
    direct: Decimal
    """The part charged to these values directly (the rest came from splits)."""

    @property
    def allocated(self) -> bool:
        return all(v is not None for v in self.values)


@dataclass(frozen=True, slots=True)
class WindowTotal:
    """Allocated, unallocated and total cost of one window and currency."""

    window: date | None
    currency: str | None
    total: Decimal
    unallocated: Decimal
    total_cents: Decimal
    """The exact total rounded half-even to the cent: what the lines' cents add up to."""
    unallocated_cents: Decimal

    @property
    def allocated(self) -> Decimal:
        return self.total - self.unallocated

    @property
    def allocated_cents(self) -> Decimal:
        return self.total_cents - self.unallocated_cents


@dataclass(frozen=True)
class AllocationReport:
    """Cost per window, ``by`` values and currency, after the allocation rules."""

    by: tuple[str, ...]
    window: Window
    start: date | None
    end: date | None
    metric: str
    rules: tuple[AllocationRule, ...]
    """The rules applied (those of the ``by`` dimensions), in the order they ran."""
    lines: tuple[AllocationLine, ...]
    """By window, currency, allocated before unallocated, then largest cost first."""
    totals: tuple[WindowTotal, ...]
    """One per window and currency, in the order of the lines."""

    def window_end(self, start: date | None) -> date | None:
        """The first day after the window starting ``start``."""
        return self.end if self.window == "total" else window_end(start, self.window)

    @cached_property
    def _totals_by_key(self) -> dict[tuple[date | None, str | None], WindowTotal]:
        return {(t.window, t.currency): t for t in self.totals}

    def total_of(self, window: date | None, currency: str | None) -> WindowTotal:
        """The totals of one window and currency."""
        return self._totals_by_key[(window, currency)]

    def share(self, line: AllocationLine) -> Decimal | None:
        """``line``'s part of its window's total (None when the total is zero)."""
        total = self.total_of(line.window, line.currency).total
        if total == 0:
            return None
        with localcontext() as ctx:
            ctx.prec = 60
            return line.amount / total

    def to_dict(self) -> dict[str, Any]:
        """For ``-o json``: exact amounts and amounts to the cent, as decimal strings."""
        return {
            "by": list(self.by),
            "window": self.window,
            "from": _iso(self.start),
            "to": _iso(self.end),
            "metric": self.metric,
            "rules": [rule.model_dump(mode="json", by_alias=True) for rule in self.rules],
            "lines": [
                {
                    "windowStart": _iso(line.window),
                    "windowEnd": _iso(self.window_end(line.window)),
                    "values": dict(zip(self.by, line.values, strict=True)),
                    "allocated": line.allocated,
                    "currency": line.currency,
                    "cost": _text(line.cents, cents=True),
                    "costExact": _text(line.amount),
                    "directExact": _text(line.direct),
                    "share": _share_text(self.share(line)),
                }
                for line in self.lines
            ],
            "totals": [
                {
                    "windowStart": _iso(t.window),
                    "windowEnd": _iso(self.window_end(t.window)),
                    "currency": t.currency,
                    "allocated": _text(t.allocated_cents, cents=True),
                    "unallocated": _text(t.unallocated_cents, cents=True),
                    "total": _text(t.total_cents, cents=True),
                    "allocatedExact": _text(t.allocated),
                    "unallocatedExact": _text(t.unallocated),
                    "totalExact": _text(t.total),
                }
                for t in self.totals
            ],
        }


def window_end(start: date | None, window: Window) -> date | None:
    """The first day after the day, week (Monday to Sunday) or month starting ``start``."""
    if start is None or window == "total":
        return None
    if window == "day":
        return start + timedelta(days=1)
    if window == "week":
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def aggregate_expression(
    charges: ir.Table,
    *,
    by: Sequence[str],
    window: Window,
    start: date | None = None,
    end: date | None = None,
    metric: str = "EffectiveCost",
) -> ir.Table:
    """The one expression the engine runs: Σ ``metric`` per window start (``window``),
    ``by`` value and currency, over charges whose period starts in ``[start, end)``."""
    charges = filtered(charges, start=start, end=end)
    keys = []
    if window != "total":
        keys.append(charges.ChargePeriodStart.truncate(_TRUNCATE[window]).name("window"))
    keys += [charges[dimension_column(d)].name(d) for d in by]
    keys.append(charges.BillingCurrency.name("currency"))
    return charges.group_by(keys).aggregate(cost=charges[metric].sum())


def allocate(
    engine: LedgerEngine,
    *,
    by: Sequence[str],
    window: Window = "month",
    start: date | None = None,
    end: date | None = None,
    rules: Sequence[AllocationRule] = (),
    metric: str = "EffectiveCost",
) -> AllocationReport:
    """Cost of the ledger's charges per ``window`` and ``by`` values, after ``rules``.

    The aggregation runs on ``engine``; the rules and the rounding run here, exactly, so
    DuckDB and Spark give the same report.
    """
    _check_arguments(by, window, start, end, rules, metric)
    expr = aggregate_expression(
        engine.charges(), by=by, window=window, start=start, end=end, metric=metric
    )
    rows = aggregate_rows(engine.execute(expr), by=by, window=window, start=start)
    return allocate_aggregate(
        rows, by=by, window=window, start=start, end=end, rules=rules, metric=metric
    )


def aggregate_rows(
    frame: pd.DataFrame, *, by: Sequence[str], window: Window, start: date | None
) -> list[AggregateRow]:
    """The engine's result as plain rows: windows as dates, missing values as None."""
    size = len(frame)
    windows = [start] * size if window == "total" else _days(frame["window"])
    values: list[Values] = (
        list(zip(*(_texts(frame[d]) for d in by), strict=True)) if by else [()] * size
    )
    costs = [_decimal(cost) for cost in frame["cost"].tolist()]
    return list(zip(windows, values, _texts(frame["currency"]), costs, strict=True))


def allocate_aggregate(
    rows: Iterable[AggregateRow],
    *,
    by: Sequence[str],
    window: Window = "month",
    start: date | None = None,
    end: date | None = None,
    rules: Sequence[AllocationRule] = (),
    metric: str = "EffectiveCost",
) -> AllocationReport:
    """The rules and the rounding on an aggregate (what :func:`allocate` does after the
    engine has summed): exact, and independent of the rows' order."""
    _check_arguments(by, window, start, end, rules, metric)
    by = tuple(by)
    groups: dict[tuple[date | None, str | None], dict[Values, int]] = {}
    for when, values, currency, cost in rows:
        if len(values) != len(by):
            raise ValueError(f"row {values!r} has not one value per dimension of {by}")
        group = groups.setdefault((when, currency), {})
        group[values] = group.get(values, 0) + _units(cost)
    applied = tuple(r for r in rules if r.dimension in by)
    lines: list[AllocationLine] = []
    totals: list[WindowTotal] = []
    for (when, currency), direct in sorted(groups.items(), key=_group_order):
        amounts = dict(direct)
        for rule in applied:
            amounts = _apply(amounts, by.index(rule.dimension), rule)
        group_lines, total = _present(when, currency, amounts, direct)
        lines += group_lines
        totals.append(total)
    return AllocationReport(
        by=by,
        window=window,
        start=start,
        end=end,
        metric=metric,
        rules=applied,
        lines=tuple(lines),
        totals=tuple(totals),
    )


# -- the rules ------------------------------------------------------------------------


def _apply(amounts: dict[Values, int], j: int, rule: AllocationRule) -> dict[Values, int]:
    """``amounts`` of one window and currency with ``rule`` (dimension ``j``) applied:
    untagged and shared costs moved onto the dimension's other values."""
    shared = set(rule.shared_values)
    split_untagged = rule.untagged != "unallocated"
    kept: dict[Values, int] = {}
    sources: list[tuple[Values, int, str]] = []
    for values, units in amounts.items():
        value = values[j]
        if value is None and split_untagged:
            sources.append((values, units, rule.untagged))
        elif value is not None and value in shared:
            sources.append((values, units, rule.shared))
        else:
            kept[values] = units
    if not sources:
        return kept
    targets = _Targets(kept, j)
    fixed = _fixed_weights(rule)
    weighed: dict[tuple[int, str], list[tuple[str, int]]] = {}
    for values, units, method in sources:  # integer sums: the order does not matter
        if method == "fixed":
            weights = fixed
        else:
            candidates = targets.of(values)
            key = (id(candidates), method)
            found = weighed.get(key)
            if found is None:
                found = weighed[key] = _weights(candidates, method)
            weights = found
        if not weights:  # nothing to split over in the whole window: stays as it is
            kept[values] = kept.get(values, 0) + units
            continue
        for value, piece in _split(units, weights):
            target = (*values[:j], value, *values[j + 1 :])
            if piece or target in kept:
                kept[target] = kept.get(target, 0) + piece
    return kept


_NOTHING: dict[str, int] = {}
"""No candidates (one object: weights are cached by the candidates' identity)."""


class _Targets:
    """The values of dimension ``j`` a cost may be split over, with their costs: those
    charged with every value the cost has in the other dimensions (where it has none,
    any value matches); when there are none, every value of the window."""

    def __init__(self, kept: dict[Values, int], j: int) -> None:
        self._entries = [(v, t, u) for v, u in kept.items() if (t := v[j]) is not None]
        self._others = [i for i in range(len(next(iter(kept), ()))) if i != j]
        self._tables: dict[tuple[int, ...], dict[Values, dict[str, int]]] = {}

    def of(self, values: Values) -> dict[str, int]:
        mask = tuple([i for i in self._others if values[i] is not None])
        found = self._table(mask).get(tuple([values[i] for i in mask]))
        return found or self._table(()).get((), _NOTHING)

    def _table(self, mask: tuple[int, ...]) -> dict[Values, dict[str, int]]:
        table = self._tables.get(mask)
        if table is None:
            table = self._tables[mask] = {}
            key_of = _key_getter(mask)
            for values, value, units in self._entries:
                key = key_of(values)
                costs = table.get(key)
                if costs is None:
                    costs = table[key] = {value: units}
                else:
                    costs[value] = costs.get(value, 0) + units
        return table


def _key_getter(mask: tuple[int, ...]) -> Callable[[Values], Values]:
    """``values`` at the positions of ``mask``, as a tuple (C speed: itemgetter)."""
    if not mask:
        return lambda _: ()
    if len(mask) == 1:
        (i,) = mask
        return lambda values: (values[i],)
    return itemgetter(*mask)


def _weights(candidates: dict[str, int], method: str) -> list[tuple[str, int]]:
    """Proportional to each value's cost (credits count as zero; all zero: even)."""
    ordered = sorted(candidates)
    if method == "proportional":
        weights = [(v, max(candidates[v], 0)) for v in ordered]
        if any(w for _, w in weights):
            return weights
    return [(v, 1) for v in ordered]


def _fixed_weights(rule: AllocationRule) -> list[tuple[str, int]]:
    if not rule.split:
        return []
    places = max(_places(p) for p in rule.split.values())
    return [(v, int(p.scaleb(places))) for v, p in sorted(rule.split.items()) if p > 0]


def _places(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _split(units: int, weights: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """``units`` in parts proportional to ``weights`` (> 0 in sum), adding up exactly:
    each part rounded down, the units left over to the largest remainders."""
    total = sum(w for _, w in weights)
    quotients: list[int] = []
    remainders: list[int] = []
    for _, weight in weights:
        quotient, remainder = divmod(units * weight, total)
        quotients.append(quotient)
        remainders.append(remainder)
    left = units - sum(quotients)
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        quotients[i] += 1
    return [(value, q) for (value, _), q in zip(weights, quotients, strict=True)]


# -- presenting -----------------------------------------------------------------------


def _present(
    when: date | None,
    currency: str | None,
    amounts: dict[Values, int],
    direct: dict[Values, int],
) -> tuple[list[AllocationLine], WindowTotal]:
    """Lines to the cent (largest remainder) adding up to the rounded total."""
    ordered = sorted(amounts.items(), key=_line_order)
    total = sum(amounts.values())
    target = _round_half_even(total, _CENT)
    floors = [divmod(units, _CENT) for _, units in ordered]
    left = target - sum(q for q, _ in floors)
    bumped = sorted(range(len(ordered)), key=lambda i: (-floors[i][1], i))[:left]
    cents = [q for q, _ in floors]
    for i in bumped:
        cents[i] += 1
    lines = [
        AllocationLine(
            window=when,
            values=values,
            currency=currency,
            amount=_decimal_of(units),
            cents=Decimal(f"{c}E-2"),
            direct=_decimal_of(direct.get(values, 0)),
        )
        for (values, units), c in zip(ordered, cents, strict=True)
    ]
    unallocated = [i for i, (values, _) in enumerate(ordered) if None in values]
    window_total = WindowTotal(
        window=when,
        currency=currency,
        total=_decimal_of(total),
        unallocated=_decimal_of(sum(ordered[i][1] for i in unallocated)),
        total_cents=Decimal(f"{target}E-2"),
        unallocated_cents=Decimal(f"{sum(cents[i] for i in unallocated)}E-2"),
    )
    return lines, window_total


def _round_half_even(units: int, quantum: int) -> int:
    quotient, remainder = divmod(units, quantum)
    if 2 * remainder > quantum or (2 * remainder == quantum and quotient % 2):
        quotient += 1
    return quotient


def _values_order(values: Values) -> tuple[tuple[bool, str], ...]:
    return tuple((v is None, v or "") for v in values)


def _line_order(item: tuple[Values, int]) -> tuple[Any, ...]:
    values, units = item
    return (None in values, -units, _ValuesOrder(values))


class _ValuesOrder:
    """Values compared with None last — computed only for ties (most costs differ)."""

    __slots__ = ("values",)

    def __init__(self, values: Values) -> None:
        self.values = values

    def __lt__(self, other: _ValuesOrder) -> bool:
        return _values_order(self.values) < _values_order(other.values)


def _group_order(item: tuple[tuple[date | None, str | None], Any]) -> tuple[Any, ...]:
    (when, currency), _ = item
    return (when is None, when or date.min, currency is None, currency or "")


# -- conversions ----------------------------------------------------------------------


def _units(amount: Decimal) -> int:
    """An amount of the ledger (at most 18 decimals) as an integer of 10⁻¹⁸."""
    numerator, denominator = amount.as_integer_ratio()
    units, left = divmod(numerator * _ONE, denominator)
    if left:
        raise ValueError(f"{amount} has more than {SCALE} decimals")
    return int(units)


def _decimal_of(units: int) -> Decimal:
    return Decimal(f"{units}E-{SCALE}")  # exact: a string is never rounded


def _decimal(value: Any) -> Decimal:
    if value is None or (isinstance(value, float) and value != value):
        return Decimal(0)  # a group whose costs are all null
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _texts(column: pd.Series) -> list[str | None]:
    """A column of text (or null: None, NaN) as Python values."""
    return [v if isinstance(v, str) else None if v is None or v != v else str(v)
            for v in column.tolist()]  # fmt: skip


def _days(column: pd.Series) -> list[date | None]:
    """Window starts as the engine returned them (timestamps in µs or ns, dates) → dates."""
    days: list[date | None] = []
    for value in column.tolist():
        if value is None or value != value:  # None, NaT
            days.append(None)
        elif isinstance(value, datetime):
            days.append(value.date())
        else:
            days.append(value if isinstance(value, date) else value.date())
    return days


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _text(amount: Decimal, *, cents: bool = False) -> str:
    if cents:
        return f"{amount:.2f}"
    with localcontext() as ctx:
        ctx.prec = 80
        return format(amount.normalize(), "f") if amount else "0"


def _share_text(share: Decimal | None) -> str | None:
    return None if share is None else f"{share:.6f}"


def _check_arguments(
    by: Sequence[str],
    window: str,
    start: date | None,
    end: date | None,
    rules: Sequence[AllocationRule],
    metric: str,
) -> None:
    for dimension in by:
        dimension_column(dimension)
    if len(set(by)) != len(by):
        raise UsageError(f"--by names a dimension twice: {','.join(by)}")
    if window not in WINDOWS:
        raise UsageError(f"unknown window {window!r}; expected one of {', '.join(WINDOWS)}")
    if metric not in COST_METRICS:
        raise UsageError(f"unknown cost metric {metric!r}; expected one of {COST_METRICS}")
    if start is not None and end is not None and end <= start:
        raise UsageError(f"--to {end} is not after --from {start}")
    check_rules(rules)

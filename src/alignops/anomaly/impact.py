"""Impact of an anomaly: how much a value differs from its baseline, in money and percent.

Amounts are ``float`` or :class:`~decimal.Decimal`. When either amount is a ``Decimal`` the
arithmetic is exact decimal arithmetic — a float is converted through its shortest repr
(``Decimal("0.1")`` for ``0.1``), as a baseline computed by
:func:`~alignops.anomaly.score_series` is a float — and the delta is a ``Decimal``;
otherwise it is a float (ints and numpy numbers count as floats). Percent is always a
float, and ``None`` when the baseline is zero (a change from nothing has no percentage).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext

from alignops.errors import InputError

__all__ = ["EXACT", "Amount", "Impact", "impact", "to_decimal"]

Amount = float | Decimal

EXACT = Context(prec=60)
"""Decimal context of the module's arithmetic: sums and differences of amounts are exact,
whatever the caller's context (which may trap ``Inexact``); quotients round at 60 digits."""


@dataclass(frozen=True)
class Impact:
    """``value`` against ``baseline``: ``delta = value − baseline`` and its percentage."""

    value: Amount
    baseline: Amount
    delta: Amount
    percent: float | None

    def __str__(self) -> str:
        sign = "+" if self.delta >= 0 else "−"
        share = "" if self.percent is None else f" ({sign}{abs(self.percent):.1f} %)"
        return f"{sign}{abs(self.delta)}{share}"


def impact(value: Amount, baseline: Amount) -> Impact:
    """The change from ``baseline`` to ``value`` in the amounts' units and in percent."""
    now = _amount("value", value)
    then = _amount("baseline", baseline)
    if isinstance(now, Decimal) or isinstance(then, Decimal):
        exact_now, exact_then = to_decimal(now), to_decimal(then)
        with localcontext(EXACT):
            delta = exact_now - exact_then
            percent = None if exact_then == 0 else float(delta / abs(exact_then) * 100)
        return Impact(value=exact_now, baseline=exact_then, delta=delta, percent=percent)
    change = now - then
    percent = None if then == 0 else change / abs(then) * 100.0
    return Impact(value=now, baseline=then, delta=change, percent=percent)


def to_decimal(amount: Amount) -> Decimal:
    """``amount`` as a Decimal; a float through its shortest repr (0.1 → Decimal("0.1"))."""
    return amount if isinstance(amount, Decimal) else Decimal(repr(float(amount)))


def _amount(name: str, amount: object) -> Amount:
    """A finite float or Decimal; ints and numpy numbers become floats."""
    if isinstance(amount, Decimal):
        if not amount.is_finite():
            raise InputError(f"impact: {name}: expected a finite number, got {amount}")
        return amount
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise InputError(f"impact: {name}: expected a number, got {amount!r}")
    number = float(amount)
    if not math.isfinite(number):
        raise InputError(f"impact: {name}: expected a finite number, got {amount}")
    return number

"""impact sizes an anomaly in money and percent, exactly when the money is Decimal."""

from __future__ import annotations

import math
from decimal import Decimal, Inexact, localcontext

import numpy as np
import pytest

from alignops.anomaly import impact, score_series
from alignops.errors import InputError


def test_floats_give_a_float_delta_and_percent() -> None:
    result = impact(150.0, 120.0)
    assert result.delta == 30.0 and result.percent == pytest.approx(25.0)
    assert impact(90, 120.0).percent == pytest.approx(-25.0)
    assert str(impact(150.0, 120.0)) == "+30.0 (+25.0 %)"
    assert str(impact(90.0, 120.0)) == "−30.0 (−25.0 %)"


def test_decimal_money_stays_exact_against_a_float_baseline() -> None:
    scores = score_series([10.1, 10.2, 10.3, 10.1, 10.2, 10.3] * 6, window=6)
    baseline = float(scores.baseline[-1])
    with localcontext() as context:
        context.traps[Inexact] = True  # the ledger's context: no rounding allowed
        result = impact(Decimal("12.35"), baseline)
    assert isinstance(result.delta, Decimal)
    assert result.baseline == Decimal(repr(baseline))
    assert result.delta == Decimal("12.35") - Decimal(repr(baseline))
    assert result.percent == pytest.approx((12.35 - baseline) / baseline * 100)
    assert impact(Decimal("0.3"), 0.1).delta == Decimal("0.2")  # not 0.19999…


def test_a_change_from_zero_has_no_percentage() -> None:
    assert impact(5.0, 0.0).percent is None
    assert impact(Decimal(5), Decimal(0)).percent is None
    assert impact(-2.0, -4.0).percent == pytest.approx(50.0)  # relative to |baseline|
    assert impact(np.float64(3.0), np.int64(2)).delta == 1.0


@pytest.mark.parametrize(
    ("value", "baseline", "message"),
    [
        (math.nan, 1.0, "value: expected a finite number, got nan"),
        (1.0, math.inf, "baseline: expected a finite number, got inf"),
        (Decimal("NaN"), 1.0, "value: expected a finite number, got NaN"),
        ("3", 1.0, "value: expected a number, got '3'"),
        (1.0, True, "baseline: expected a number, got True"),
    ],
)
def test_bad_amounts_are_named(value: object, baseline: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        impact(value, baseline)  # type: ignore[arg-type]

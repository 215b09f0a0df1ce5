"""score_series computes exactly the documented formulas, on any shape of input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alignops.anomaly import score_series
from alignops.errors import InputError
from tests.anomaly.series import weekly


def reference(
    values: list[float], season: int, window: int, spread_window: int
) -> tuple[np.ndarray, np.ndarray]:
    """The definitions of docs/anomalies.md, one point at a time in plain Python."""
    n = len(values)
    missing = [math.isnan(v) for v in values]
    baseline, scale, spread, errors = [math.nan] * n, [math.nan] * n, [math.nan] * n, [math.nan] * n
    for t in range(n):
        same = [
            values[t - k * season]
            for k in range(1, window // season + 1)
            if t - k * season >= 0 and not missing[t - k * season]
        ]
        if len(same) < 3:
            continue
        baseline[t] = float(np.median(same))
        recent = [abs(values[j]) for j in range(max(0, t - window), t) if not missing[j]]
        level = float(np.median(recent)) if recent else 0.0
        scale[t] = max(abs(baseline[t]), 0.1 * level, 1e-9)
        if not missing[t]:
            errors[t] = (values[t] - baseline[t]) / scale[t]
    for t in range(n):
        past = [errors[j] for j in range(max(0, t - spread_window), t) if not math.isnan(errors[j])]
        if math.isnan(baseline[t]) or len(past) < 14:
            continue
        center = float(np.median(past))
        mad = float(np.median([abs(e - center) for e in past]))
        spread[t] = max(1.4826 * mad, 0.01) * scale[t]
    return np.array(baseline), np.array(spread)


@pytest.mark.parametrize(
    ("season", "window", "spread_window"), [(7, 28, 84), (1, 28, 84), (7, 35, 20), (24, 72, 50)]
)
def test_baseline_and_spread_are_the_documented_ones(
    season: int, window: int, spread_window: int
) -> None:
    rng = np.random.default_rng(season * 1000 + window)
    values, _ = weekly(rng, days=200, tail=3.0)
    values[rng.choice(200, 25, replace=False)] = np.nan  # missing days
    values[rng.choice(200, 5, replace=False)] *= 4  # spikes
    values[150:160] = 0.0  # an outage: a baseline of zero
    scores = score_series(values, season=season, window=window, spread_window=spread_window)
    baseline, spread = reference(list(values), season, window, spread_window)
    np.testing.assert_allclose(scores.baseline, baseline, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(scores.spread, spread, rtol=1e-12, equal_nan=True)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(
            scores.score, (values - baseline) / spread, rtol=1e-12, equal_nan=True
        )
    assert not np.isnan(scores.score).all()


def test_many_series_at_once_equal_one_at_a_time() -> None:
    rng = np.random.default_rng(7)
    rows = np.stack([weekly(rng, tail=4.0)[0] for _ in range(6)])
    rows[2, 40:60] = np.nan
    together = score_series(rows, season=7)
    for i, row in enumerate(rows):
        alone = score_series(row, season=7)
        np.testing.assert_array_equal(together.baseline[i], alone.baseline)
        np.testing.assert_array_equal(together.spread[i], alone.spread)
        np.testing.assert_array_equal(together.score[i], alone.score)
        np.testing.assert_array_equal(together.anomalous[i], alone.anomalous)


def test_results_have_the_input_shape_and_are_read_only() -> None:
    scores = score_series([1.0, 2.0, 3.0, 4.0, 5.0], window=3)
    for array in (scores.baseline, scores.spread, scores.score, scores.anomalous):
        assert array.shape == (5,)
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0
    assert scores.anomalous.dtype == np.bool_
    empty = score_series([])
    assert empty.score.shape == (0,)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"season": 0}, "season: expected an integer ≥ 1, got 0"),
        ({"season": 2.5}, "season: expected an integer ≥ 1, got 2.5"),
        ({"season": True}, "season: expected an integer ≥ 1, got True"),
        ({"season": 7, "window": 14}, r"window: expected an integer ≥ 21 \(3 × season\), got 14"),
        ({"window": 2}, "window: expected an integer ≥ 3"),
        ({"spread_window": 3}, "spread_window: expected an integer ≥ 14, got 3"),
        ({"threshold": 0}, "threshold: expected a number > 0, got 0"),
        ({"threshold": math.nan}, "threshold: expected a number > 0, got nan"),
        ({"min_change": -1.0}, "min_change: expected a number ≥ 0, got -1.0"),
        ({"direction": "sideways"}, "direction: expected one of up, down, both, got 'sideways'"),
    ],
)
def test_bad_options_are_named(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message) as raised:
        score_series([1.0] * 30, **arguments)  # type: ignore[arg-type]
    assert raised.value.exit_code == 2


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1.0, math.inf, 2.0], r"values\[1\]: inf is not finite"),
        ([[1.0, 2.0], [3.0, -math.inf]], r"values\[1, 1\]: -inf is not finite"),
        (["a", "b"], "values: not numbers"),
        ([[[1.0]]], "expected one series .1-D. or one per row .2-D., got 3 dimensions"),
        ([[1.0, 2.0], [3.0]], "values: not numbers"),
    ],
)
def test_bad_values_are_named(values: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        score_series(values)  # type: ignore[arg-type]

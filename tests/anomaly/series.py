"""Generated series for the anomaly tests: weekly seasonal costs with known spikes."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

WEEK = 7
DAYS = 364  # 52 weeks; day 0 is a Monday


def weekly(
    rng: np.random.Generator,
    *,
    days: int = DAYS,
    level: float = 100.0,
    noise: float = 0.03,
    tail: float = math.inf,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(values, expected): weekday level, weekends at 60 %, a slow trend, and noise.

    ``noise`` is the standard deviation as a share of the expected value; ``tail`` the
    degrees of freedom of Student's t (normal noise when infinite).
    """
    day = np.arange(days)
    expected = level * (1 + 0.2 * day / 365) * np.where(day % WEEK >= 5, 0.6, 1.0)
    if math.isinf(tail):
        unit = rng.standard_normal(days)
    else:
        unit = rng.standard_t(tail, days) / math.sqrt(tail / (tail - 2))
    return expected * (1 + noise * unit), expected


def bounded(
    rng: np.random.Generator, *, days: int = DAYS
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(values, expected): weekly seasonal series with uniform noise of ±4 %, no outliers."""
    day = np.arange(days)
    expected = 100.0 * (1 + 0.2 * day / 365) * np.where(day % WEEK >= 5, 0.6, 1.0)
    return expected * (1 + rng.uniform(-0.04, 0.04, days)), expected


def with_spikes(
    rng: np.random.Generator, count: int, *, size: float = 0.5, first: int = 35
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """A :func:`bounded` series with ``count`` spikes of +``size`` × expected, and their days.

    Spikes are at least 29 days apart, so a baseline (four same weekdays) holds one at most.
    """
    values, expected = bounded(rng)
    gap = (len(values) - first) // count
    assert gap >= 29, "too many spikes for the series"
    days = first + gap * np.arange(count) + rng.integers(0, gap - 28, count)
    values[days] += size * expected[days]
    return values, days

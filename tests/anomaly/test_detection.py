"""score_series finds what is unusual for its season position, and nothing else."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alignops.anomaly import score_series
from tests.anomaly.series import WEEK, bounded, weekly, with_spikes


def test_known_spikes_are_found_and_nothing_else() -> None:
    rng = np.random.default_rng(11)
    for _ in range(20):
        values, days = with_spikes(rng, 8, size=0.3)  # +30 % on ±4 % noise
        scores = score_series(values, season=WEEK, window=28)
        assert np.flatnonzero(scores.anomalous[56:]).tolist() == (days[days >= 56] - 56).tolist()
        assert (scores.score[days] >= 4).all()


def test_pure_seasonal_series_without_outliers_raise_no_alarm() -> None:
    """Once the spread rests on 4 weeks of baseline errors (day 56 on): no alarm at all.

    Earlier, with 14 to 27 errors, the spread is less sure (about 1 % of such series
    has a score above 4 in their first weeks).
    """
    rng = np.random.default_rng(12)
    for _ in range(100):
        values, _ = bounded(rng)
        scores = score_series(values, season=WEEK, window=28, direction="both")
        assert not scores.anomalous[56:].any()
        assert np.nanmax(np.abs(scores.score[56:])) < 4


def test_gaussian_noise_raises_few_alarms() -> None:
    rng = np.random.default_rng(13)
    rows = np.stack([weekly(rng)[0] for _ in range(100)])
    scores = score_series(rows, season=WEEK, window=28)
    scored = ~np.isnan(scores.score)
    assert scored.sum() > 30_000
    assert scores.anomalous.sum() / scored.sum() < 0.002  # 4σ of normal noise: 3 in 100,000


def test_warm_up_points_have_no_score_and_are_never_anomalous() -> None:
    rng = np.random.default_rng(14)
    values, _ = weekly(rng, days=60)
    values[[3, 10, 25]] *= 10
    scores = score_series(values, season=WEEK, window=28)
    # a baseline needs 3 same weekdays (day 21 on), a spread 14 errors of it (day 35 on)
    assert np.isnan(scores.baseline[:21]).all() and not np.isnan(scores.baseline[21:]).any()
    assert np.isnan(scores.score[:35]).all() and not np.isnan(scores.score[35:]).any()
    assert not scores.anomalous[:35].any()
    short = score_series(np.ones(40), window=3)  # the spread still gets its 14 errors
    assert np.isnan(short.score[:17]).all() and not np.isnan(short.score[17:]).any()
    hourly = score_series(np.ones(200), season=24, window=72)
    assert np.isnan(hourly.score[: 72 + 14]).all() and not np.isnan(hourly.score[86:]).any()


def test_missing_values_are_skipped_not_fatal() -> None:
    rng = np.random.default_rng(15)
    values, days = with_spikes(rng, 5, size=0.5, first=70)
    values[days[0] - WEEK] = np.nan  # the same weekday a week before a spike
    gaps = np.array([30, 31, 32, 45, 100, 101, 200])
    gaps = gaps[~np.isin(gaps, days)]
    values[gaps] = np.nan
    as_list: list[float | None] = [None if math.isnan(v) else float(v) for v in values]
    scores = score_series(as_list, season=WEEK, window=28)
    assert np.flatnonzero(scores.anomalous).tolist() == days.tolist()
    assert np.isnan(scores.score[gaps]).all()
    assert not np.isnan(scores.baseline[gaps]).any()  # known from the past alone
    nothing = score_series([np.nan] * 50, season=WEEK)
    assert np.isnan(nothing.score).all() and not nothing.anomalous.any()


def test_flat_series_use_the_floor_not_an_infinite_score() -> None:
    flat = np.full(120, 250.0)
    scores = score_series(flat, season=WEEK)
    np.testing.assert_array_equal(scores.spread[35:], 2.5)  # 1 % of the baseline
    assert (scores.score[35:] == 0).all() and not scores.anomalous.any()
    flat[80], flat[90] = 251.0, 265.0  # +0.4 %: a wiggle; +6 %: a jump
    scores = score_series(flat, season=WEEK)
    assert scores.score[80] == pytest.approx(0.4)
    assert np.flatnonzero(scores.anomalous).tolist() == [90]
    zeros = score_series(np.zeros(60), season=WEEK)
    assert (zeros.score[35:] == 0).all() and not zeros.anomalous.any()


def test_a_position_at_zero_is_measured_against_the_series_level() -> None:
    """No cost on Sundays: a Sunday cent is not infinitely unusual, a Sunday $40 is."""
    day = np.arange(140)
    rng = np.random.default_rng(21)
    closed = np.where(day % WEEK == 6, 0.0, 100.0 * (1 + rng.uniform(-0.04, 0.04, 140)))
    closed[125] = 0.01
    closed[132] = 40.0
    scores = score_series(closed, season=WEEK)
    assert np.flatnonzero(scores.anomalous).tolist() == [132]
    assert scores.baseline[125] == 0
    assert scores.spread[125] >= 0.01 * 0.1 * 100 * 0.96  # the floor: 1 % of 10 % of the level
    assert scores.score[125] < 1


@pytest.mark.parametrize(
    ("direction", "expected"), [("up", [100]), ("down", [150]), ("both", [100, 150])]
)
def test_direction_chooses_rises_falls_or_both(direction: str, expected: list[int]) -> None:
    rng = np.random.default_rng(16)
    values, _ = weekly(rng)
    values[100] *= 1.5
    values[150] *= 0.5
    scores = score_series(values, season=WEEK, direction=direction)  # type: ignore[arg-type]
    assert np.flatnonzero(scores.anomalous).tolist() == expected
    assert scores.score[100] > 4 and scores.score[150] < -4


def test_each_point_is_compared_with_its_own_season_position() -> None:
    day = np.arange(140)
    rng = np.random.default_rng(17)
    values = np.where(day % WEEK == 0, 300.0, 100.0) * (1 + rng.uniform(-0.02, 0.02, 140))
    values[99] = 300.0  # a Tuesday as high as a Monday: unusual for a Tuesday
    values[112] = 450.0  # a Monday 50 % above Mondays
    values[119] = 303.0  # an ordinary Monday
    scores = score_series(values, season=WEEK)
    assert np.flatnonzero(scores.anomalous).tolist() == [99, 112]
    assert scores.baseline[112] == pytest.approx(300, rel=0.03)
    assert scores.baseline[99] == pytest.approx(100, rel=0.03)
    # Without the season every Monday would look like a spike.
    assert score_series(values, season=1).anomalous[day % WEEK == 0].sum() > 10


def test_min_change_ignores_small_moves_in_money() -> None:
    rng = np.random.default_rng(18)
    values, _ = weekly(rng, level=10.0, noise=0.01)
    values[200] += 1.0  # +10 %: anomalous, but one unit of money
    values[250] += 5.0
    assert {200, 250} <= set(np.flatnonzero(score_series(values, season=WEEK).anomalous))
    large = score_series(values, season=WEEK, min_change=2.0)
    assert np.flatnonzero(large.anomalous).tolist() == [250]


def test_past_anomalies_do_not_poison_later_baselines() -> None:
    """One spike in a baseline's four values does not move its median much, nor the spread.

    (Two of four do: with a weekly season, use a longer window when the same weekday
    often misbehaves two weeks in a month — docs/anomalies.md, limits.)
    """
    rng = np.random.default_rng(19)
    values, expected = bounded(rng)
    spikes = [120, 148, 150, 151, 152]  # the same weekday 4 weeks apart; three days running
    values[spikes] *= 3
    scores = score_series(values, season=WEEK)
    assert np.flatnonzero(scores.anomalous).tolist() == spikes
    after = [127, 134, 141, 148, 155, 162, 169, 157, 158, 159, 164, 165, 166]
    for day in after:  # one of the four same weekdays before was a spike
        assert scores.baseline[day] == pytest.approx(expected[day], rel=0.05)
    assert np.nanmax(np.abs(scores.score[153:])) < 4


def test_precision_and_recall_on_a_generated_set() -> None:
    """50 series with 5 spikes each of 6σ to 60σ on normal noise of 2–8 %: both ≥ 0.9."""
    rng = np.random.default_rng(20)
    rows, truth = [], []
    for _ in range(50):
        values, expected = weekly(rng, noise=rng.uniform(0.02, 0.08))
        sigma = np.std((values - expected) / expected)
        days = rng.choice(np.arange(35, len(values)), 5, replace=False)
        values[days] += np.exp(rng.uniform(np.log(6), np.log(60), 5)) * sigma * expected[days]
        spike = np.zeros(len(values), bool)
        spike[days] = True
        rows.append(values)
        truth.append(spike)
    flags = score_series(np.stack(rows), season=WEEK).anomalous
    spikes = np.stack(truth)
    hits = (flags & spikes).sum()
    assert hits / flags.sum() >= 0.9
    assert hits / spikes.sum() >= 0.9


def test_a_lasting_level_shift_is_flagged_until_the_baseline_learns_it() -> None:
    """+50 % from day 200 on: flagged every day for two weeks (while at most one of the four
    same weekdays is at the new level), now and then in the third (two of four: the median
    is halfway), never after (three of four): the new level is normal."""
    rng = np.random.default_rng(22)
    values, _ = bounded(rng)
    values[200:] *= 1.5
    scores = score_series(values, season=WEEK)
    flagged = np.flatnonzero(scores.anomalous)
    assert flagged[:14].tolist() == list(range(200, 214))
    assert flagged.max() < 221
    assert np.nanmax(np.abs(scores.score[221:])) < 4

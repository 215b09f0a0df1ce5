"""The metric kernels against fairlearn and scikit-learn, on data the tests do not choose."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from fairlearn import metrics as fm
from hypothesis import given, settings
from hypothesis import strategies as st

from alignops.evidence import kernels

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")

TOL = 1e-9


def same(ours: float, theirs: float) -> bool:
    if math.isnan(theirs):
        return math.isnan(ours)
    return abs(ours - float(theirs)) <= TOL


# -- data ---------------------------------------------------------------------------------

RATE = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0), st.floats(0.0, 0.05))
SIZE = st.one_of(st.just(1), st.integers(1, 5), st.integers(1, 80))


@st.composite
def grouped(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Groups (string or int labels, 2–12 of them, some of one row), y_true, y_pred."""
    k = draw(st.integers(2, 12))
    if draw(st.booleans()):
        labels: list[Any] = draw(
            st.lists(st.text(min_size=1, max_size=5), min_size=k, max_size=k, unique=True)
        )
    else:
        labels = draw(st.lists(st.integers(-500, 500), min_size=k, max_size=k, unique=True))
    sizes = draw(st.lists(SIZE, min_size=k, max_size=k))
    base = draw(st.lists(RATE, min_size=k, max_size=k))  # P(y_true = 1)
    tpr = draw(st.lists(RATE, min_size=k, max_size=k))  # P(y_pred = 1 | y_true = 1)
    fpr = draw(st.lists(RATE, min_size=k, max_size=k))  # P(y_pred = 1 | y_true = 0)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    code = np.repeat(np.arange(k), sizes)
    rng.shuffle(code)
    n = len(code)
    y_true = (rng.random(n) < np.asarray(base)[code]).astype(np.int64)
    rate = np.where(y_true == 1, np.asarray(tpr)[code], np.asarray(fpr)[code])
    y_pred = (rng.random(n) < rate).astype(np.int64)
    groups = np.asarray(labels, dtype=object if isinstance(labels[0], str) else np.int64)[code]
    return groups, y_true, y_pred


def large(seed: int, n: int = 100_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """8 groups of very different sizes (one of 3 rows) and rates."""
    rng = np.random.default_rng(seed)
    p = np.array([0.4, 0.25, 0.15, 0.1, 0.05, 0.03, 0.02, 0.0])
    code = rng.choice(8, size=n - 3, p=p / p.sum())
    code = np.concatenate([code, [7, 7, 7]])
    rng.shuffle(code)
    base = rng.uniform(0.05, 0.6, 8)
    y_true = (rng.random(n) < base[code]).astype(np.int64)
    rate = np.where(y_true == 1, rng.uniform(0.3, 0.9, 8)[code], rng.uniform(0.0, 0.3, 8)[code])
    y_pred = (rng.random(n) < rate).astype(np.int64)
    return code, y_true, y_pred


def assert_like_fairlearn(
    groups: Any, y_true: np.ndarray, y_pred: np.ndarray, rates: kernels.GroupRates
) -> None:
    sf = {"sensitive_features": groups}
    dpd = fm.demographic_parity_difference(y_true, y_pred, **sf)
    dpr = fm.demographic_parity_ratio(y_true, y_pred, **sf)
    eod = fm.equalized_odds_difference(y_true, y_pred, **sf)
    assert same(kernels.demographic_parity_difference(rates), dpd)
    assert same(kernels.demographic_parity_ratio(rates), dpr)
    assert same(kernels.equalized_odds_difference(rates), eod)


# -- fairness -----------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(grouped())
def test_fairness_metrics_equal_fairlearn(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    groups, y_true, y_pred = data
    rates = kernels.group_rates("a", groups, y_pred, y_true)
    assert_like_fairlearn(groups, y_true, y_pred, rates)


@settings(max_examples=150, deadline=None)
@given(grouped())
def test_group_rates_equal_fairlearn_by_group(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    groups, y_true, y_pred = data
    rates = kernels.group_rates("a", groups, y_pred, y_true)
    frame = fm.MetricFrame(
        metrics={
            "selection": fm.selection_rate,
            "count": fm.count,
            "tpr": fm.true_positive_rate,
            "fpr": fm.false_positive_rate,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=pd.Series(groups).astype(str),
    ).by_group
    assert rates.groups == tuple(frame.index)  # sorted as strings, like pandas' groupby
    assert rates.sizes.tolist() == frame["count"].tolist()
    np.testing.assert_allclose(rates.selection_rate, frame["selection"], rtol=0, atol=TOL)
    # GroupRates says NaN where fairlearn (sklearn's normalized confusion matrix) says 0.
    np.testing.assert_allclose(np.nan_to_num(rates.tpr), frame["tpr"], rtol=0, atol=TOL)
    np.testing.assert_allclose(np.nan_to_num(rates.fpr), frame["fpr"], rtol=0, atol=TOL)
    assert (np.isnan(rates.tpr) == (rates.positives == 0)).all()
    assert (np.isnan(rates.fpr) == (rates.negatives == 0)).all()
    assert (rates.positives + rates.negatives == rates.sizes).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", ["int", "str", "float", "category"])
def test_fairness_metrics_equal_fairlearn_on_100k_rows(seed: int, kind: str) -> None:
    code, y_true, y_pred = large(seed)
    groups: Any = {
        "int": code * 7 - 20,
        "str": np.array([f"group {c}" for c in range(8)], dtype=object)[code],
        "float": code / 4 + 0.5,
        "category": pd.Categorical.from_codes(code, [f"c{c}" for c in range(9)]),
    }[kind]
    rates = kernels.group_rates("a", groups, y_pred, y_true)
    assert len(rates.groups) == 8  # the unused category has no group
    assert int(rates.sizes.sum()) == 100_000
    assert_like_fairlearn(groups, y_true, y_pred, rates)


@settings(max_examples=100, deadline=None)
@given(grouped(), st.integers(1, 90))
def test_min_group_size_equals_fairlearn_on_the_big_groups(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], min_size: int
) -> None:
    groups, y_true, y_pred = data
    rates = kernels.group_rates("a", groups, y_pred, y_true)
    sizes = pd.Series(groups).map(pd.Series(groups).value_counts()).to_numpy()
    big = sizes >= min_size
    if not big.any():
        with pytest.raises(ValueError, match="min_group_size"):
            kernels.demographic_parity_difference(rates, min_group_size=min_size)
        return
    sf = {"sensitive_features": groups[big]}
    expected = {
        "dpd": fm.demographic_parity_difference(y_true[big], y_pred[big], **sf),
        "dpr": fm.demographic_parity_ratio(y_true[big], y_pred[big], **sf),
        "eod": fm.equalized_odds_difference(y_true[big], y_pred[big], **sf),
    }
    got = {
        "dpd": kernels.demographic_parity_difference(rates, min_group_size=min_size),
        "dpr": kernels.demographic_parity_ratio(rates, min_group_size=min_size),
        "eod": kernels.equalized_odds_difference(rates, min_group_size=min_size),
    }
    for key, value in expected.items():
        assert same(got[key], value), key


def test_min_group_size_on_100k_rows() -> None:
    code, y_true, y_pred = large(3)
    rates = kernels.group_rates("a", code, y_pred, y_true)
    big = np.isin(code, np.flatnonzero(np.bincount(code) >= 1000))
    assert 2 <= len(np.unique(code[big])) < 8
    sf = {"sensitive_features": code[big]}
    assert same(
        kernels.demographic_parity_difference(rates, min_group_size=1000),
        fm.demographic_parity_difference(y_true[big], y_pred[big], **sf),
    )
    assert same(
        kernels.equalized_odds_difference(rates, min_group_size=1000),
        fm.equalized_odds_difference(y_true[big], y_pred[big], **sf),
    )


def test_groups_are_strings_in_sorted_order() -> None:
    rates = kernels.group_rates("age", [10, 2, 1, 2, 10, 10], [1, 0, 1, 1, 0, 0])
    assert rates.attribute == "age"
    assert rates.groups == ("1", "10", "2")
    assert rates.sizes.tolist() == [1, 3, 2]
    assert rates.selection_rate.tolist() == [1.0, 1 / 3, 0.5]


def test_values_with_the_same_string_are_one_group() -> None:
    groups = np.array([1, "1", "b", True, "True"], dtype=object)
    rates = kernels.group_rates("a", groups, [1, 0, 1, 0, 0])
    assert rates.groups == ("1", "True", "b")
    assert rates.sizes.tolist() == [2, 2, 1]


def test_categorical_groups_leave_out_unused_categories() -> None:
    groups = pd.Series(pd.Categorical(["b", "a", "b"], categories=["z", "b", "a"]))
    rates = kernels.group_rates("a", groups, np.array([True, False, False]))
    assert rates.groups == ("a", "b")
    assert rates.sizes.tolist() == [1, 2]
    assert rates.selection_rate.tolist() == [0.0, 0.5]


def test_without_labels() -> None:
    rates = kernels.group_rates("a", ["x", "y", "x"], [1, 0, 0])
    assert rates.positives.tolist() == [0, 0]
    assert rates.negatives.tolist() == [0, 0]
    assert np.isnan(rates.tpr).all() and np.isnan(rates.fpr).all()
    assert kernels.demographic_parity_difference(rates) == 0.5
    with pytest.raises(ValueError, match="needs y_true"):
        kernels.equalized_odds_difference(rates)


def test_rates_are_read_only() -> None:
    rates = kernels.group_rates("a", ["x", "y"], [1, 0], [1, 1])
    with pytest.raises(ValueError, match="read-only"):
        rates.sizes[0] = 5


def test_ratio_when_nobody_is_selected_is_nan_like_fairlearn() -> None:
    groups, y_pred = ["a", "b", "b"], [0, 0, 0]
    rates = kernels.group_rates("g", groups, y_pred)
    assert math.isnan(fm.demographic_parity_ratio(y_pred, y_pred, sensitive_features=groups))
    assert math.isnan(kernels.demographic_parity_ratio(rates))
    assert kernels.demographic_parity_difference(rates) == 0.0


@pytest.mark.parametrize(
    ("groups", "y_pred", "y_true", "message"),
    [
        (["a", "b"], [1, 0, 1], None, "differ in length"),
        (["a", "b"], [1, 0], [1], "differ in length"),
        ([], [], None, "empty"),
        (["a", "b"], [1, 2], None, "binary.*2"),
        (["a", "b"], [1, -1], None, "binary"),
        (["a", "b"], [0.5, 1], None, "binary.*0.5"),
        (["a", "b"], [np.nan, 1], None, "binary.*nan"),
        (["a", "b"], ["yes", "no"], None, "binary"),
        (["a", "b"], np.array(["a", None], dtype=object), None, "binary"),
        (["a", "b"], [1, 0], [1, 3], "y_true must be binary"),
        (["a", None], [1, 0], None, "missing"),
        ([1.0, np.nan], [1, 0], None, "missing"),
        ([["a"], ["b"]], [1, 0], None, "one-dimensional"),
        (["a", "b"], [[1], [0]], None, "one-dimensional"),
    ],
)
def test_group_rates_rejects_bad_input(groups: Any, y_pred: Any, y_true: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        kernels.group_rates("a", groups, y_pred, y_true)


def test_binary_inputs_may_be_bools_or_floats() -> None:
    a = kernels.group_rates("a", ["x", "y"], [True, False], np.array([1.0, 0.0]))
    b = kernels.group_rates("a", ["x", "y"], [1, 0], pd.Series([1, 0], dtype="Int64"))
    assert a.selection_rate.tolist() == b.selection_rate.tolist() == [1.0, 0.0]
    assert a.positives.tolist() == b.positives.tolist() == [1, 0]


# -- bootstrap ----------------------------------------------------------------------------


def disparate(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    groups = rng.choice(np.array(["a", "b", "c"], dtype=object), size=n, p=[0.5, 0.3, 0.2])
    y_true = (rng.random(n) < 0.4).astype(int)
    rate = (
        np.select([groups == "a", groups == "b"], [0.30, 0.40], 0.50) + 0.2 * y_true
    )  # TPR and FPR differ by group too
    y_pred = (rng.random(n) < rate).astype(int)
    return groups, y_true, y_pred


POINT = {
    "dp_difference": kernels.demographic_parity_difference,
    "dp_ratio": kernels.demographic_parity_ratio,
    "eo_difference": kernels.equalized_odds_difference,
}
METRICS = list(POINT)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bootstrap_interval_contains_the_point_estimate(metric: Any, seed: int) -> None:
    groups, y_true, y_pred = disparate(20_000, seed)
    point = POINT[metric](kernels.group_rates("a", groups, y_pred, y_true))
    low, high = kernels.bootstrap_interval("a", groups, y_pred, y_true, metric=metric, seed=seed)
    assert low < point < high


@pytest.mark.parametrize("metric", METRICS)
def test_bootstrap_interval_is_deterministic_for_a_seed(metric: Any) -> None:
    groups, y_true, y_pred = disparate(5_000)
    args = ("a", groups, y_pred, y_true)
    first = kernels.bootstrap_interval(*args, metric=metric, seed=7)
    assert kernels.bootstrap_interval(*args, metric=metric, seed=7) == first
    assert kernels.bootstrap_interval(*args, metric=metric, seed=8) != first


@pytest.mark.parametrize("metric", METRICS)
def test_bootstrap_interval_narrows_as_n_grows(metric: Any) -> None:
    widths = []
    for n in (1_000, 10_000, 100_000):
        groups, y_true, y_pred = disparate(n)
        low, high = kernels.bootstrap_interval("a", groups, y_pred, y_true, metric=metric)
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2] > 0


def test_bootstrap_interval_matches_resampling_rows() -> None:
    """The multinomial draw of the count table is the same distribution as resampling rows."""
    groups, y_true, y_pred = disparate(20_000)
    rng = np.random.default_rng(123)
    stats: dict[str, list[float]] = {metric: [] for metric in METRICS}
    for _ in range(500):
        rows = rng.integers(0, len(groups), size=len(groups))
        rates = kernels.group_rates("a", groups[rows], y_pred[rows], y_true[rows])
        for metric in METRICS:
            stats[metric].append(POINT[metric](rates))
    for metric in METRICS:
        expected = np.quantile(stats[metric], [0.025, 0.975])
        low, high = kernels.bootstrap_interval(
            "a", groups, y_pred, y_true, metric=metric, n_resamples=2000
        )
        spread = expected[1] - expected[0]
        assert abs(low - expected[0]) < 0.1 * spread, metric
        assert abs(high - expected[1]) < 0.1 * spread, metric


def test_bootstrap_interval_leaves_out_small_groups() -> None:
    rng = np.random.default_rng(0)
    n = 10_000
    groups = np.where(rng.random(n) < 0.5, "a", "b").astype(object)
    groups[:5] = "tiny"
    y_pred = (rng.random(n) < 0.3).astype(int)
    y_pred[:5] = 1
    args = ("a", groups, y_pred, None)
    low, high = kernels.bootstrap_interval(*args, metric="dp_difference", min_group_size=100)
    assert 0 <= low < high < 0.05
    low, _ = kernels.bootstrap_interval(*args, metric="dp_difference")
    assert low > 0.5


def test_bootstrap_interval_narrower_at_lower_confidence() -> None:
    groups, y_true, y_pred = disparate(5_000)
    args = ("a", groups, y_pred, y_true)
    wide = kernels.bootstrap_interval(*args, metric="dp_difference", confidence=0.95)
    narrow = kernels.bootstrap_interval(*args, metric="dp_difference", confidence=0.5)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "accuracy"}, "unknown metric"),
        ({"metric": "dp_difference", "n_resamples": 0}, "n_resamples"),
        ({"metric": "dp_difference", "confidence": 1.0}, "confidence"),
        ({"metric": "dp_difference", "confidence": 0.0}, "confidence"),
        ({"metric": "dp_difference", "min_group_size": 10**6}, "min_group_size"),
    ],
)
def test_bootstrap_interval_rejects_bad_arguments(kwargs: Any, message: str) -> None:
    groups, y_true, y_pred = disparate(100)
    with pytest.raises(ValueError, match=message):
        kernels.bootstrap_interval("a", groups, y_pred, y_true, **kwargs)


def test_bootstrap_equalized_odds_needs_labels() -> None:
    groups, _, y_pred = disparate(100)
    with pytest.raises(ValueError, match="needs y_true"):
        kernels.bootstrap_interval("a", groups, y_pred, None, metric="eo_difference")


# -- performance --------------------------------------------------------------------------

BINARY = st.lists(st.integers(0, 1), min_size=1, max_size=200)


@st.composite
def labelled(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y_true = (rng.random(n) < draw(RATE)).astype(int)
    y_pred = np.where(rng.random(n) < draw(RATE), y_true, 1 - y_true)
    return y_true, y_pred


@st.composite
def scored(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Labels with both classes and scores with many ties (few distinct values)."""
    n = draw(st.integers(2, 400))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y_true = (rng.random(n) < draw(st.floats(0.01, 0.99))).astype(int)
    y_true[:2] = [0, 1]
    levels = draw(st.integers(1, 20))
    shift = draw(st.floats(-2, 2))
    score = np.round(rng.normal(size=n) + shift * y_true, 0) % levels / levels
    if draw(st.booleans()):
        score = score * 1e6 - 3
    return y_true, score


@settings(max_examples=200, deadline=None)
@given(labelled())
def test_accuracy_and_f1_equal_sklearn(data: tuple[np.ndarray, np.ndarray]) -> None:
    y_true, y_pred = data
    assert same(kernels.accuracy(y_true, y_pred), skm.accuracy_score(y_true, y_pred))
    expected = skm.f1_score(y_true, y_pred, zero_division=0)
    assert same(kernels.f1(y_true, y_pred), expected)


@settings(max_examples=200, deadline=None)
@given(scored())
def test_roc_auc_equals_sklearn_with_ties(data: tuple[np.ndarray, np.ndarray]) -> None:
    y_true, score = data
    assert same(kernels.roc_auc(y_true, score), skm.roc_auc_score(y_true, score))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 300),
    st.integers(0, 2**32 - 1),
    st.sampled_from([1e-6, 1.0, 1e3]),
)
def test_rmse_and_mae_equal_sklearn(n: int, seed: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    y_true = rng.normal(size=n) * scale
    y_pred = y_true + rng.standard_t(3, size=n) * scale
    assert same(kernels.rmse(y_true, y_pred), skm.root_mean_squared_error(y_true, y_pred))
    assert same(kernels.mae(y_true, y_pred), skm.mean_absolute_error(y_true, y_pred))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_performance_equals_sklearn_on_100k_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 100_000
    y_true = (rng.random(n) < 0.3).astype(int)
    score = np.clip(rng.normal(0.4 + 0.2 * y_true, 0.2), 0, 1)
    tied = np.round(score, 2)  # ~100 distinct scores: ties everywhere
    y_pred = (score > 0.5).astype(int)
    assert same(kernels.accuracy(y_true, y_pred), skm.accuracy_score(y_true, y_pred))
    assert same(kernels.f1(y_true, y_pred), skm.f1_score(y_true, y_pred))
    assert same(kernels.roc_auc(y_true, score), skm.roc_auc_score(y_true, score))
    assert same(kernels.roc_auc(y_true, tied), skm.roc_auc_score(y_true, tied))
    assert same(kernels.rmse(y_true, score), skm.root_mean_squared_error(y_true, score))
    assert same(kernels.mae(y_true, score), skm.mean_absolute_error(y_true, score))


def test_undefined_performance_like_sklearn() -> None:
    assert kernels.f1([0, 0, 0], [0, 0, 0]) == 0.0
    assert math.isnan(skm.roc_auc_score([1, 1], [0.2, 0.3]))
    assert math.isnan(kernels.roc_auc([1, 1], [0.2, 0.3]))
    assert kernels.roc_auc([0, 1], [0.5, 0.5]) == 0.5
    assert kernels.roc_auc([0, 1], [0.2, 0.7]) == 1.0


@pytest.mark.parametrize(
    ("function", "y_true", "y_other", "message"),
    [
        (kernels.accuracy, [0, 1], [0, 1, 1], "differ in length"),
        (kernels.f1, [], [], "empty"),
        (kernels.f1, [0, 2], [0, 1], "y_true must be binary"),
        (kernels.accuracy, [0, 1], [0, 0.5], "y_pred must be binary"),
        (kernels.roc_auc, [0, 1, 2], [0.1, 0.2, 0.3], "y_true must be binary"),
        (kernels.roc_auc, [0, 1], [0.1, np.nan], "NaN"),
        (kernels.roc_auc, [0, 1], ["a", "b"], "numeric"),
        (kernels.rmse, [0.0, np.inf], [0.0, 1.0], "NaN or infinite"),
        (kernels.mae, [0.0], [0.0, 1.0], "differ in length"),
        (kernels.mae, [[0.0]], [[1.0]], "one-dimensional"),
    ],
)
def test_performance_rejects_bad_input(
    function: Any, y_true: Any, y_other: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        function(y_true, y_other)

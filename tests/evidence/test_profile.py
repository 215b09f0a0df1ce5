"""Reference profiles and PSI against a plain, loop-by-loop reference formula."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alignops.evidence.profile import FeatureProfile, Profile, psi, psi_by_feature

TOL = 1e-9


# -- the reference: written from the definition, without numpy tricks ----------------------


def reference_numeric_psi(expected: list[float], actual: list[float]) -> float:
    """PSI with decile bins of ``expected`` (np.quantile, linear), then a missing bin."""
    present = [x for x in expected if not math.isnan(x)]
    edges = sorted(set(float(q) for q in np.quantile(present, [i / 10 for i in range(1, 10)])))

    def bin_of(x: float) -> int:
        if math.isnan(x):
            return len(edges) + 1
        return sum(1 for edge in edges if edge <= x)

    return _psi_of_bins([bin_of(x) for x in expected], [bin_of(x) for x in actual], len(edges) + 2)


def reference_categorical_psi(expected: list[Any], actual: list[Any]) -> float:
    def missing(x: Any) -> bool:
        return x is None or (isinstance(x, float) and math.isnan(x))

    categories = sorted({str(x) for x in expected if not missing(x)})

    def bin_of(x: Any) -> int:
        if missing(x):
            return len(categories) + 1
        return categories.index(str(x)) if str(x) in categories else len(categories)

    return _psi_of_bins(
        [bin_of(x) for x in expected], [bin_of(x) for x in actual], len(categories) + 2
    )


def _psi_of_bins(expected: list[int], actual: list[int], bins: int) -> float:
    total = 0.0
    for b in range(bins):
        e = expected.count(b) / len(expected) or 1e-4
        a = actual.count(b) / len(actual) or 1e-4
        total += (a - e) * math.log(a / e)
    return total


# -- data the tests do not choose -----------------------------------------------------------

VALUE = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.just(math.nan),
    st.sampled_from([0.0, 1.0, 2.5]),  # heavy ties: duplicated decile edges
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(VALUE, min_size=1, max_size=200),
    st.lists(VALUE, min_size=1, max_size=200),
)
def test_numeric_psi_equals_the_reference_formula(
    expected: list[float], actual: list[float]
) -> None:
    if all(math.isnan(x) for x in expected):
        expected = [*expected, 0.0]
    reference = Profile.build(pd.DataFrame({"x": expected}), ["x"])
    current = reference.count(pd.DataFrame({"x": actual}))
    ours = psi(reference.features["x"], current.features["x"])
    assert ours == pytest.approx(reference_numeric_psi(expected, actual), abs=TOL)


CATEGORY = st.one_of(st.sampled_from(["a", "b", "c", "d", "e"]), st.integers(0, 3), st.none())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(CATEGORY, min_size=1, max_size=200),
    st.lists(CATEGORY, min_size=1, max_size=200),
)
def test_categorical_psi_equals_the_reference_formula(
    expected: list[Any], actual: list[Any]
) -> None:
    reference = Profile.build(
        pd.DataFrame({"c": pd.Series(expected, dtype=object)}), ["c"], categorical={"c"}
    )
    current = reference.count(pd.DataFrame({"c": pd.Series(actual, dtype=object)}))
    ours = psi(reference.features["c"], current.features["c"])
    assert ours == pytest.approx(reference_categorical_psi(expected, actual), abs=TOL)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_psi_on_100k_rows_of_shifted_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    expected = rng.lognormal(0, 1, 100_000)
    actual = rng.lognormal(0.1, 1.1, 100_000)
    reference = Profile.build(pd.DataFrame({"x": expected}), ["x"])
    current = reference.count(pd.DataFrame({"x": actual}))
    ours = psi_by_feature(reference, current)["x"]
    # The vectorised reference: the same definition through np.quantile and np.histogram.
    edges = np.unique(np.quantile(expected, np.arange(1, 10) / 10))
    bounds = np.concatenate([[-np.inf], edges, [np.inf]])
    e = np.histogram(expected, bounds)[0] / len(expected)
    a = np.histogram(actual, bounds)[0] / len(actual)
    e, a = np.append(e, 1e-4), np.append(a, 1e-4)  # the empty missing-value bin
    assert ours == pytest.approx(float(np.sum((a - e) * np.log(a / e))), abs=TOL)
    assert ours > 0.01


def test_the_same_data_has_no_drift() -> None:
    frame = pd.DataFrame({"x": np.arange(1000.0), "c": ["a", "b"] * 500})
    reference = Profile.build(frame, ["x", "c"])
    assert psi_by_feature(reference, reference.count(frame)) == {"x": 0.0, "c": 0.0}


def test_decile_edges_equal_numpy_quantile() -> None:
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.normal(size=10_001), [np.nan] * 7])
    profile = Profile.build(pd.DataFrame({"x": values}), ["x"])
    expected = np.unique(np.quantile(values[~np.isnan(values)], np.arange(1, 10) / 10))
    assert profile.features["x"].edges == tuple(float(e) for e in expected)
    assert profile.features["x"].counts[-1] == 7


def test_unseen_categories_and_missing_values_have_their_own_bins() -> None:
    reference = Profile.build(pd.DataFrame({"c": ["a", "b", "a"]}), ["c"])
    current = reference.count(pd.DataFrame({"c": ["a", "z", None, "q"]}))
    assert current.features["c"].categories == ("a", "b")
    assert current.features["c"].counts == (1, 0, 2, 1)


# -- profiles are counts: they merge, and they survive JSON ---------------------------------


def _frame(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    x[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "k": rng.integers(0, 5, n),
            "c": rng.choice(["red", "green", "blue"], n),
            "b": rng.random(n) < 0.3,
        }
    )


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(st.integers(1, 400), min_size=1, max_size=6))
def test_profiles_of_chunks_add_up_to_the_profile_of_the_whole(
    seed: int, chunk_sizes: list[int]
) -> None:
    reference = Profile.build(_frame(seed, 500), ["x", "k", "c", "b"])
    whole = _frame(seed + 1, sum(chunk_sizes))
    bounds = np.cumsum([0, *chunk_sizes])
    chunks = [reference.count(whole.iloc[a:b]) for a, b in itertools.pairwise(bounds)]
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert total == reference.count(whole)


def test_a_profile_survives_json() -> None:
    frame = pd.DataFrame({"x": [-np.inf, 0.0, 1.0, np.inf, np.nan] * 4, "c": list("abcde") * 4})
    profile = Profile.build(frame, ["x", "c"])
    text = json.dumps(profile.to_dict(), allow_nan=False)
    assert Profile.from_dict(json.loads(text)) == profile


def test_profiles_of_different_bins_do_not_add() -> None:
    one = Profile.build(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), ["x"])
    two = Profile.build(pd.DataFrame({"x": [5.0, 6.0, 7.0]}), ["x"])
    with pytest.raises(ValueError, match="bins differ"):
        one + two
    with pytest.raises(ValueError, match="bins differ"):
        psi(one.features["x"], two.features["x"])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rows": "3", "features": {}}, "rows must be an integer"),
        ({"features": {}}, "malformed profile"),
        (
            {"rows": 1, "features": {"x": {"kind": "numeric", "edges": [], "categories": []}}},
            "malformed profile of feature 'x'",
        ),
        (
            {
                "rows": 1,
                "features": {
                    "x": {"kind": "numeric", "edges": [2.0, 1.0], "categories": [], "counts": [1]}
                },
            },
            "edges must be increasing",
        ),
        (
            {
                "rows": 2,
                "features": {
                    "x": {"kind": "numeric", "edges": [], "categories": [], "counts": [1, 0]}
                },
            },
            "counts 1 rows, not 2",
        ),
    ],
)
def test_malformed_profiles_are_refused_with_the_reason(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Profile.from_dict(data)


def test_bad_data_is_refused_with_the_column() -> None:
    with pytest.raises(ValueError, match="no column 'y'"):
        Profile.build(pd.DataFrame({"x": [1.0]}), ["y"])
    with pytest.raises(ValueError, match="no rows"):
        Profile.build(pd.DataFrame({"x": pd.Series([], dtype=float)}), ["x"])
    reference = Profile.build(pd.DataFrame({"x": [1.0, 2.0]}), ["x"])
    with pytest.raises(ValueError, match="'x' of type object is not numeric"):
        reference.count(pd.DataFrame({"x": ["a", "b"]}))


def test_feature_profile_checks_its_shape() -> None:
    with pytest.raises(ValueError, match="expected 3 counts"):
        FeatureProfile("x", "numeric", (1.0,), (), (1, 2))

"""Exact metric kernels: group fairness rates and model performance, with numpy.

Every function takes one-dimensional array-likes of equal, non-zero length and raises
:class:`ValueError` otherwise. Classification inputs (``y_pred``, ``y_true``) must be binary:
bool or numbers equal to 0 or 1, the positive label being 1.

Fairness, per group of a sensitive attribute (fairlearn's definitions, to the last bit):

- groups are the distinct values of the attribute compared as strings (``str(value)``),
  listed in sorted string order; a value that is missing (None, NaN, NA) is an error, as in
  fairlearn's ``MetricFrame``. The rows are factorized once and counted with ``np.bincount``
  into a table group × y_true × y_pred, from which every rate is derived.
- selection rate: the mean of y_pred in the group.
- TPR: TP / (TP + FN); FPR: FP / (FP + TN). :class:`GroupRates` holds NaN for a group without
  positives (TPR) or negatives (FPR), or without ``y_true``.
- demographic parity difference: max − min selection rate over the groups; ratio: min / max,
  NaN when every selection rate is 0 (fairlearn divides 0 by 0).
- equalized odds difference: max(TPR max − min, FPR max − min). Like fairlearn (whose rates
  come from ``sklearn.metrics.confusion_matrix(normalize="true")``), an undefined TPR or FPR
  counts as 0 — a group without positives has TPR 0. Use ``min_group_size`` to leave out
  groups too small to have both.
- ``min_group_size``: only groups with at least that many rows take part; if none has, the
  metric is undefined and a :class:`ValueError` is raised.
- :func:`bootstrap_interval`: percentile bootstrap over rows. Resampling n rows with
  replacement gives every cell of the group × y_true × y_pred table a count drawn from the
  multinomial distribution Multinomial(n, cell counts / n), and every metric here depends on
  the rows only through that table; so the resamples are drawn as multinomial tables, which
  is the same distribution as resampling rows, at a cost independent of n. The groups taking
  part are those of at least ``min_group_size`` rows in the data; a group that a resample
  happens to leave empty does not take part in that resample. The interval is the
  ``(1 − confidence) / 2`` and ``(1 + confidence) / 2`` quantiles (numpy's linear method) of
  the resampled metric; NaN if the metric is undefined (NaN) in some resample.

Performance (as ``sklearn.metrics``):

- accuracy: share of rows where y_pred == y_true.
- F1 of the positive label: 2·TP / (2·TP + FP + FN); 0.0 when there is neither a positive
  nor a predicted positive (sklearn's ``zero_division=0``).
- ROC AUC: the Mann–Whitney U statistic, P(score of a positive > score of a negative) with
  ties counting one half — equal to sklearn's trapezoidal ``roc_auc_score``, ties included;
  computed from integer counts with one final division. NaN when y_true has one class only
  (sklearn returns NaN with a warning).
- RMSE: sqrt(mean((y_true − y_pred)²)); MAE: mean(|y_true − y_pred|). Values must be finite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "GroupRates",
    "accuracy",
    "bootstrap_interval",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "f1",
    "factorize_as_strings",
    "group_rates",
    "mae",
    "rmse",
    "roc_auc",
]

Metric = Literal["dp_difference", "dp_ratio", "eo_difference"]
_METRICS: tuple[str, ...] = ("dp_difference", "dp_ratio", "eo_difference")

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class GroupRates:
    """Rates of one sensitive attribute's groups (arrays aligned with ``groups``, read-only)."""

    attribute: str
    groups: tuple[str, ...]
    sizes: IntArray
    selection_rate: FloatArray
    positives: IntArray
    negatives: IntArray
    tpr: FloatArray
    fpr: FloatArray


# -- input checks -------------------------------------------------------------------------


def _vector(name: str, values: Any) -> NDArray[Any]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got an array of shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    return array


def _same_length(**arrays: NDArray[Any]) -> int:
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise ValueError(f"inputs differ in length: {listed} rows")
    return next(iter(lengths.values()))


def _binary(name: str, values: Any) -> BoolArray:
    """``values == 1`` after checking that every value is 0 or 1 (or a bool)."""
    array = _vector(name, values)
    if array.dtype == np.bool_:
        return array
    if array.dtype.kind not in "iuf":
        if array.dtype.kind != "O":
            raise ValueError(
                f"{name} must be binary (0/1 or bool); got values of type {array.dtype}"
            )
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"{name} must be binary (0/1 or bool); it holds values that are not numbers"
            ) from None
    ones: BoolArray = array == 1
    bad = ~(ones | (array == 0))
    if bad.any():
        example = array[bad][0].item()
        raise ValueError(f"{name} must be binary (0/1 or bool); found the value {example!r}")
    return ones


def _real(name: str, values: Any) -> FloatArray:
    array = _vector(name, values)
    try:
        real: FloatArray = array.astype(np.float64, copy=False)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric; got values of type {array.dtype}") from None
    if not np.isfinite(real).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return real


def factorize_as_strings(values: Any) -> tuple[NDArray[np.intp], list[str]]:
    """Codes of one-dimensional values (−1 where missing) and the string of each code.

    Values are told apart by their strings: pandas alone would make one value of 1, 1.0 and
    True (equal in Python) in an object array, so such arrays are turned into strings
    first. Distinct values may still have the same string (1 and "1").
    """
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        array = np.asarray(values, dtype=object)
        if pd.api.types.infer_dtype(array, skipna=True) not in ("string", "empty"):
            strings = array.astype(str).astype(object)
            strings[pd.isna(array)] = None
            values = strings
    codes, uniques = pd.factorize(values)
    return np.asarray(codes, dtype=np.intp), [str(value) for value in uniques]


def _factorize(name: str, groups: Any) -> tuple[NDArray[np.intp], tuple[str, ...]]:
    """Codes of the rows into the groups, and the groups' labels (as strings, sorted)."""
    if not isinstance(groups, (np.ndarray, pd.Series, pd.Index, pd.api.extensions.ExtensionArray)):
        groups = np.asarray(groups, dtype=object)
    if np.ndim(groups) != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {np.shape(groups)}")
    if len(groups) == 0:
        raise ValueError(f"{name} is empty")
    codes, labels = factorize_as_strings(groups)
    if codes.min() < 0:
        raise ValueError(f"{name} contains missing values; remove or replace them")
    # Values with the same string (1 and "1") are one group; np.unique sorts the labels.
    sorted_labels, inverse = np.unique(np.array(labels, dtype=object), return_inverse=True)
    remapped: NDArray[np.intp] = inverse.astype(np.intp, copy=False)[codes]
    return remapped, tuple(str(label) for label in sorted_labels)


def _table(
    attribute: str, groups: ArrayLike, y_pred: ArrayLike, y_true: ArrayLike | None
) -> tuple[tuple[str, ...], IntArray]:
    """Groups and the count table, shape (groups, y_true, y_pred); y_true 0 when not given."""
    pred = _binary("y_pred", y_pred)
    codes, labels = _factorize(f"groups of {attribute!r}", groups)
    if y_true is None:
        _same_length(groups=codes, y_pred=pred)
        cells = codes * 4 + pred
    else:
        truth = _binary("y_true", y_true)
        _same_length(groups=codes, y_pred=pred, y_true=truth)
        cells = codes * 4 + truth * 2 + pred
    counts = np.bincount(cells, minlength=4 * len(labels)).astype(np.int64, copy=False)
    return labels, counts.reshape(len(labels), 2, 2)


def _ratio(numerator: NDArray[Any], denominator: NDArray[Any]) -> FloatArray:
    out = np.full(np.shape(numerator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _rates(
    table: IntArray,
) -> tuple[IntArray, FloatArray, IntArray, IntArray, FloatArray, FloatArray]:
    """Sizes, selection rate, positives, negatives, TPR and FPR of tables (..., groups, 2, 2)."""
    sizes = table.sum(axis=(-2, -1))
    selected = table[..., 1].sum(axis=-1)
    positives = table[..., 1, :].sum(axis=-1)
    negatives = table[..., 0, :].sum(axis=-1)
    return (
        sizes,
        _ratio(selected, sizes),
        positives,
        negatives,
        _ratio(table[..., 1, 1], positives),
        _ratio(table[..., 0, 1], negatives),
    )


def _readonly(array: NDArray[Any]) -> NDArray[Any]:
    array.flags.writeable = False
    return array


def group_rates(
    attribute: str, groups: ArrayLike, y_pred: ArrayLike, y_true: ArrayLike | None = None
) -> GroupRates:
    """Per-group sizes and rates of binary predictions (and labels, when given)."""
    labels, table = _table(attribute, groups, y_pred, y_true)
    sizes, selection, positives, negatives, tpr, fpr = _rates(table)
    if y_true is None:  # without labels the table's y_true axis is a placeholder
        positives, negatives = np.zeros_like(sizes), np.zeros_like(sizes)
        tpr, fpr = np.full(len(labels), np.nan), np.full(len(labels), np.nan)
    return GroupRates(
        attribute=attribute,
        groups=labels,
        sizes=_readonly(sizes),
        selection_rate=_readonly(selection),
        positives=_readonly(positives),
        negatives=_readonly(negatives),
        tpr=_readonly(tpr),
        fpr=_readonly(fpr),
    )


# -- disparity over groups (last axis), shared by point estimates and the bootstrap -------


def _spread(values: FloatArray, mask: BoolArray) -> FloatArray:
    """max − min along the last axis over the entries where mask is true."""
    high = np.where(mask, values, -np.inf).max(axis=-1)
    low = np.where(mask, values, np.inf).min(axis=-1)
    result: FloatArray = np.where(mask.any(axis=-1), high - low, np.nan)
    return result


def _dp_difference(selection: FloatArray, mask: BoolArray) -> FloatArray:
    return _spread(selection, mask)


def _dp_ratio(selection: FloatArray, mask: BoolArray) -> FloatArray:
    high = np.where(mask, selection, -np.inf).max(axis=-1)
    low = np.where(mask, selection, np.inf).min(axis=-1)
    return _ratio(low, high)


def _eo_difference(tpr: FloatArray, fpr: FloatArray, mask: BoolArray) -> FloatArray:
    # fairlearn's rates come from confusion_matrix(normalize="true"): undefined rates are 0.
    tpr0 = np.nan_to_num(tpr, nan=0.0)
    fpr0 = np.nan_to_num(fpr, nan=0.0)
    result: FloatArray = np.maximum(_spread(tpr0, mask), _spread(fpr0, mask))
    return result


def _eligible(sizes: IntArray, min_group_size: int) -> BoolArray:
    mask: BoolArray = sizes >= min_group_size
    if not mask.any():
        raise ValueError(
            f"no group has at least min_group_size={min_group_size} rows "
            f"(the largest has {int(sizes.max(initial=0))})"
        )
    return mask


def _needs_labels(rates: GroupRates) -> None:
    if not (rates.positives + rates.negatives).any():
        raise ValueError(f"equalized odds of {rates.attribute!r} needs y_true")


def demographic_parity_difference(rates: GroupRates, *, min_group_size: int = 0) -> float:
    """Largest minus smallest selection rate over groups of at least ``min_group_size`` rows."""
    mask = _eligible(rates.sizes, min_group_size)
    return float(_dp_difference(rates.selection_rate, mask))


def demographic_parity_ratio(rates: GroupRates, *, min_group_size: int = 0) -> float:
    """Smallest over largest selection rate (NaN if all are 0), groups ≥ ``min_group_size``."""
    mask = _eligible(rates.sizes, min_group_size)
    return float(_dp_ratio(rates.selection_rate, mask))


def equalized_odds_difference(rates: GroupRates, *, min_group_size: int = 0) -> float:
    """max(TPR difference, FPR difference) over groups ≥ ``min_group_size`` (fairlearn's)."""
    _needs_labels(rates)
    mask = _eligible(rates.sizes, min_group_size)
    return float(_eo_difference(rates.tpr, rates.fpr, mask))


def bootstrap_interval(
    attribute: str,
    groups: ArrayLike,
    y_pred: ArrayLike,
    y_true: ArrayLike | None,
    *,
    metric: Metric,
    min_group_size: int = 0,
    n_resamples: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a disparity metric (see the module docstring)."""
    if metric not in _METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(_METRICS)}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1; got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1; got {confidence}")
    if metric == "eo_difference" and y_true is None:
        raise ValueError(f"equalized odds of {attribute!r} needs y_true")
    _, table = _table(attribute, groups, y_pred, y_true)
    eligible = _eligible(table.sum(axis=(1, 2)), min_group_size)
    flat = table.reshape(-1)
    n = int(flat.sum())
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, flat / n, size=n_resamples).astype(np.int64, copy=False)
    sizes, selection, _, _, tpr, fpr = _rates(draws.reshape(n_resamples, *table.shape))
    mask = eligible & (sizes > 0)
    if metric == "dp_difference":
        stats = _dp_difference(selection, mask)
    elif metric == "dp_ratio":
        stats = _dp_ratio(selection, mask)
    else:
        stats = _eo_difference(tpr, fpr, mask)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(stats, [tail, 1.0 - tail])
    return float(low), float(high)


# -- performance --------------------------------------------------------------------------


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Share of rows where the binary prediction equals the binary label."""
    truth, pred = _binary("y_true", y_true), _binary("y_pred", y_pred)
    n = _same_length(y_true=truth, y_pred=pred)
    return int(np.count_nonzero(truth == pred)) / n


def f1(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """F1 of the positive label 1; 0.0 when undefined."""
    truth, pred = _binary("y_true", y_true), _binary("y_pred", y_pred)
    _same_length(y_true=truth, y_pred=pred)
    tp = int(np.count_nonzero(truth & pred))
    wrong = int(np.count_nonzero(truth != pred))  # FP + FN
    if tp == 0:
        return 0.0
    return 2 * tp / (2 * tp + wrong)


def roc_auc(y_true: ArrayLike, score: ArrayLike) -> float:
    """Area under the ROC curve, ties counting one half; NaN with a single class."""
    truth, values = _binary("y_true", y_true), _real("score", score)
    n = _same_length(y_true=truth, score=values)
    n_pos = int(np.count_nonzero(truth))
    n_neg = n - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    pos = np.bincount(inverse[truth], minlength=len(counts)).astype(np.int64)
    neg = counts.astype(np.int64) - pos
    neg_below = np.cumsum(neg) - neg
    # 2·U = Σ over score values of positives × (2 · negatives below + negatives tied).
    twice_u = int(np.dot(pos, 2 * neg_below + neg))
    return twice_u / (2 * n_pos * n_neg)


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error."""
    truth, pred = _real("y_true", y_true), _real("y_pred", y_pred)
    _same_length(y_true=truth, y_pred=pred)
    return float(np.sqrt(np.mean((truth - pred) ** 2)))


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error."""
    truth, pred = _real("y_true", y_true), _real("y_pred", y_pred)
    _same_length(y_true=truth, y_pred=pred)
    return float(np.mean(np.abs(truth - pred)))

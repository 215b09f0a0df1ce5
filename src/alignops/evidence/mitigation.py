"""Post-processing for demographic parity: one decision threshold per group.

:class:`GroupThresholdClassifier` wraps a fitted probabilistic classifier and, on data it
is shown with :meth:`~GroupThresholdClassifier.fit`, picks for every group of the given
columns the score threshold at which the group's selection rate equals the overall
selection rate of the wrapped classifier. Groups with fewer rows than
``min_group_size`` keep ``default_threshold``. The group columns must be present at
prediction time (as in fairlearn's ``ThresholdOptimizer``); the wrapped classifier's
scores are unchanged, so explanations of the scores still apply.

Saved with skops, it loads when its type is trusted:
``alignops.evidence.mitigation.GroupThresholdClassifier`` is on alignops' list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = ["GroupThresholdClassifier"]


def _keys(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    parts = [frame[c].astype(str).to_numpy() for c in columns]
    out: np.ndarray = parts[0].astype(object)
    for part in parts[1:]:
        out = out + "|" + part
    return out


class GroupThresholdClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Equalize selection rates across groups by choosing a threshold per group."""

    def __init__(
        self,
        estimator: Any,
        group_columns: Sequence[str],
        *,
        min_group_size: int = 50,
        default_threshold: float = 0.5,
    ) -> None:
        self.estimator = estimator
        self.group_columns = group_columns
        self.min_group_size = min_group_size
        self.default_threshold = default_threshold

    def fit(self, X: pd.DataFrame, y: Any = None) -> GroupThresholdClassifier:
        scores = self.estimator.predict_proba(X)[:, 1]
        target = float(np.mean(scores >= self.default_threshold))
        keys = _keys(X, self.group_columns)
        thresholds: dict[str, float] = {}
        for key in np.unique(keys):
            group = scores[keys == key]
            if len(group) >= self.min_group_size:
                thresholds[str(key)] = float(np.quantile(group, 1.0 - target))
        self.thresholds_ = thresholds
        self.target_rate_ = target
        self.classes_ = self.estimator.classes_
        self.feature_names_in_ = getattr(self.estimator, "feature_names_in_", None)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        result: np.ndarray = self.estimator.predict_proba(X)
        return result

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        scores = self.predict_proba(X)[:, 1]
        keys = _keys(X, self.group_columns)
        cut = pd.Series(keys).map(self.thresholds_).fillna(self.default_threshold).to_numpy()
        return self.classes_[(scores >= cut).astype(int)]  # type: ignore[no-any-return]

"""``performance``: accuracy, ROC AUC and F1 for classifiers; RMSE and MAE for regressors,
on the evaluation data."""

from __future__ import annotations

from typing import Any

from alignops.evidence.checks.base import (
    CheckConfig,
    CheckResult,
    EvidenceInputs,
    as_positive,
    register,
)

__all__ = ["PerformanceConfig", "performance"]


class PerformanceConfig(CheckConfig):
    pass


@register("performance", activity="performance-evaluation", config=PerformanceConfig)
def performance(inputs: EvidenceInputs, config: PerformanceConfig) -> CheckResult:
    from alignops.evidence import kernels

    metrics: dict[str, Any] = {"task": inputs.task, "rows": len(inputs.y_true)}
    if inputs.task == "regression":
        metrics["rmse"] = kernels.rmse(inputs.y_true, inputs.y_pred)
        metrics["mae"] = kernels.mae(inputs.y_true, inputs.y_pred)
    else:
        classes = getattr(inputs.model.estimator, "classes_", None)
        y_true = as_positive(inputs.y_true, classes)
        y_pred = as_positive(inputs.y_pred, classes)
        metrics["accuracy"] = kernels.accuracy(y_true, y_pred)
        metrics["f1"] = kernels.f1(y_true, y_pred)
        score = inputs.score
        metrics["rocAuc"] = None if score is None else kernels.roc_auc(y_true, score)
    return CheckResult(metrics, rows=len(inputs.y_true))

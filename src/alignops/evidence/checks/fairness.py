"""``fairness``: selection rates and error rates across the groups of protected attributes.

For each attribute: demographic-parity difference (max − min selection rate, the
fairlearn definition) and ratio (min / max), equalized-odds difference (the larger of
the TPR and FPR differences) when the data has a label, group sizes and rates, and
bootstrap percentile intervals. Groups smaller than ``min_group_size`` are reported but
not counted in the metrics: their rates are too noisy to gate on.
"""

from __future__ import annotations

from typing import Any, Literal

from alignops.errors import EvidenceError
from alignops.evidence.checks.base import (
    CheckConfig,
    CheckResult,
    EvidenceInputs,
    as_positive,
    register,
)

__all__ = ["FairnessConfig", "fairness"]


class FairnessConfig(CheckConfig):
    attributes: tuple[str, ...]
    min_group_size: int = 100
    resamples: int = 200
    confidence: float = 0.95


@register("fairness", activity="fairness-audit", config=FairnessConfig)
def fairness(inputs: EvidenceInputs, config: FairnessConfig) -> CheckResult:
    import numpy as np

    from alignops.evidence import kernels

    if inputs.task != "classification":
        raise EvidenceError("fairness metrics apply to classifiers")
    frame = inputs.evaluation.frame
    classes = getattr(inputs.model.estimator, "classes_", None)
    y_pred = as_positive(inputs.y_pred, classes)
    y_true = as_positive(inputs.y_true, classes) if inputs.evaluation.label else None
    attributes: dict[str, Any] = {}
    for attribute in config.attributes:
        if attribute not in frame.columns:
            raise EvidenceError(
                f"dataset {inputs.evaluation.name} has no protected attribute column {attribute!r}"
            )
        groups = frame[attribute].astype(str).to_numpy()
        rates = kernels.group_rates(attribute, groups, y_pred, y_true)
        gated = rates.sizes >= config.min_group_size
        if gated.sum() < 2:
            raise EvidenceError(
                f"{attribute}: fewer than two groups with at least {config.min_group_size} rows"
            )
        size = config.min_group_size
        result: dict[str, Any] = {
            "dpDifference": kernels.demographic_parity_difference(rates, min_group_size=size),
            "dpRatio": kernels.demographic_parity_ratio(rates, min_group_size=size),
        }
        metrics: list[Literal["dp_difference", "dp_ratio", "eo_difference"]] = [
            "dp_difference",
            "dp_ratio",
        ]
        if y_true is not None:
            result["eoDifference"] = kernels.equalized_odds_difference(rates, min_group_size=size)
            metrics.append("eo_difference")
        intervals = {}
        for metric in metrics:
            low, high = kernels.bootstrap_interval(
                attribute,
                groups,
                y_pred,
                y_true,
                metric=metric,
                min_group_size=size,
                n_resamples=config.resamples,
                confidence=config.confidence,
                seed=inputs.seed,
            )
            key = {"dp_difference": "dpDifference", "dp_ratio": "dpRatio"}.get(
                metric, "eoDifference"
            )
            intervals[key] = [low, high]
        result["interval"] = intervals
        result["groups"] = [
            {
                "group": g,
                "size": int(rates.sizes[i]),
                "selectionRate": float(rates.selection_rate[i]),
                "tpr": None if np.isnan(rates.tpr[i]) else float(rates.tpr[i]),
                "fpr": None if np.isnan(rates.fpr[i]) else float(rates.fpr[i]),
                "gated": bool(gated[i]),
            }
            for i, g in enumerate(rates.groups)
        ]
        attributes[attribute] = result
    metrics_out = {
        "minGroupSize": config.min_group_size,
        "confidence": config.confidence,
        "rows": len(y_pred),
        "attributes": attributes,
    }
    return CheckResult(metrics_out, rows=len(y_pred))

"""``drift``: PSI per feature of the evaluation data against the reference profile.

The reference profile (bins fixed from the reference data: deciles for numbers, one bin
per category plus unseen, counts) is kept with the result, so live traffic can later be
compared against exactly the same bins.
"""

from __future__ import annotations

from alignops.errors import EvidenceError
from alignops.evidence.checks.base import CheckConfig, CheckResult, EvidenceInputs, register

__all__ = ["DriftConfig", "drift"]


class DriftConfig(CheckConfig):
    features: tuple[str, ...] | None = None


@register("drift", activity="drift-monitoring", config=DriftConfig)
def drift(inputs: EvidenceInputs, config: DriftConfig) -> CheckResult:
    from alignops.evidence.profile import Profile, psi_by_feature

    if inputs.reference is None:
        raise EvidenceError(
            f"model {inputs.model.name} names no training or reference dataset to compare with"
        )
    features = list(config.features or inputs.features)
    reference = Profile.build(inputs.frame(inputs.reference)[features], features)
    current = reference.count(inputs.frame(inputs.evaluation)[features])
    values = psi_by_feature(reference, current)
    ranked = sorted(values.items(), key=lambda kv: -kv[1])
    return CheckResult(
        {
            "reference": inputs.reference.name,
            "current": inputs.evaluation.name,
            "psi": dict(ranked),
            "maxPsi": ranked[0][1] if ranked else 0.0,
            "referenceProfile": reference.to_dict(),
        },
        rows=current.rows,
    )

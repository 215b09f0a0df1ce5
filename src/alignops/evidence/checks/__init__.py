"""Evidence checks, a registry of small things: ``fairness``, ``explainability``,
``drift``, ``performance``. Each declares its configuration schema and the
responsible-AI activity its compute time is billed to."""

from alignops.evidence.checks import drift, explainability, fairness, performance
from alignops.evidence.checks.base import CHECKS, CheckResult, CheckSpec, EvidenceInputs

__all__ = [
    "CHECKS",
    "CheckResult",
    "CheckSpec",
    "EvidenceInputs",
    "drift",
    "explainability",
    "fairness",
    "performance",
]

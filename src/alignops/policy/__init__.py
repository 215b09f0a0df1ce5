"""Rego policy-as-code: the engine interface, version detection, policy sets, tests."""

from alignops.policy.bundle import GateRule, PolicySet, RuleOutcome
from alignops.policy.engine import ENGINES, UNDEFINED, RegoEngine, new_engine

__all__ = [
    "ENGINES",
    "UNDEFINED",
    "GateRule",
    "PolicySet",
    "RegoEngine",
    "RuleOutcome",
    "new_engine",
]

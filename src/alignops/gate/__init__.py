"""The gate: policies (and, later, evidence, approvals and cost) → a :class:`Verdict`."""

from alignops.gate.check import check
from alignops.gate.verdict import Finding, Verdict, Waiver

__all__ = ["Finding", "Verdict", "Waiver", "check"]

"""``Verdict`` and ``Finding``: what the gate decided about a revision, and why."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as _field
from datetime import datetime
from typing import Any, Literal

__all__ = ["Finding", "Outcome", "Verdict", "Waiver", "outcome_of"]

Outcome = Literal["pass", "warn", "deny"]
Severity = Literal["deny", "warn"]


@dataclass(frozen=True, slots=True)
class Waiver:
    """The Exception that waived a finding, or that would have if it had not expired."""

    name: str
    file: str
    line: int
    reason: str
    owner: str
    expires_at: datetime
    expired: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "line": self.line,
            "reason": self.reason,
            "owner": self.owner,
            "expiresAt": self.expires_at.isoformat(),
            "expired": self.expired,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's message about one resource."""

    rule: str
    resource: str
    severity: Severity
    message: str
    file: str
    line: int
    field: str | None = None
    details: dict[str, Any] = _field(default_factory=dict)
    waiver: Waiver | None = None

    @property
    def waived(self) -> bool:
        return self.waiver is not None and not self.waiver.expired

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "resource": self.resource,
            "severity": self.severity,
            "status": "waived" if self.waived else "active",
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "details": self.details,
            "waiver": self.waiver.to_dict() if self.waiver else None,
        }


def outcome_of(findings: Iterable[Finding]) -> Outcome:
    active = [f for f in findings if not f.waived]
    if any(f.severity == "deny" for f in active):
        return "deny"
    if active:
        return "warn"
    return "pass"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's decision on one revision."""

    revision: str
    label: str
    digest: str
    environment: str | None
    base: str | None
    """Revision compared against (``--base``), when only changes were checked."""
    resources_total: int
    resources_checked: tuple[str, ...]
    rules: tuple[str, ...]
    findings: tuple[Finding, ...]
    checked_at: datetime
    engine: str
    evidence: dict[str, list[dict[str, Any]]] = _field(default_factory=dict)
    """model → evidence of each check (check, key, metrics, artifacts, cached, error)"""
    approvals: dict[str, Any] = _field(default_factory=dict)
    usage: tuple[Any, ...] = ()
    """usage records of evidence computed for this verdict"""

    @property
    def outcome(self) -> Outcome:
        return outcome_of(self.findings)

    @property
    def denied(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "deny" and not f.waived]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warn" and not f.waived]

    @property
    def waived(self) -> list[Finding]:
        return [f for f in self.findings if f.waived]

    def summary(self) -> dict[str, int]:
        return {
            "denied": len(self.denied),
            "warnings": len(self.warnings),
            "waived": len(self.waived),
            "resourcesChecked": len(self.resources_checked),
            "resourcesTotal": self.resources_total,
            "rules": len(self.rules),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "revision": self.revision,
            "label": self.label,
            "digest": self.digest,
            "environment": self.environment,
            "base": self.base,
            "checkedAt": self.checked_at.isoformat(),
            "engine": self.engine,
            "summary": self.summary(),
            "resourcesChecked": list(self.resources_checked),
            "findings": [f.to_dict() for f in self.findings],
            "evidence": self.evidence,
            "approvals": self.approvals,
            "usage": [u.to_dict() for u in self.usage],
        }

"""What remediation is told about an alert, and what it reports back.

Kept apart from :mod:`alignops.monitor.remediate` so each action's module
(``remediate_retrain``, ``remediate_scale``) can build outcomes without importing the
dispatcher that imports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = ["AlertFacts", "RemediationOutcome", "RemediationStatus", "first_line", "trailers"]

RemediationStatus = Literal["done", "proposed", "failed", "skipped"]


@dataclass(frozen=True)
class AlertFacts:
    """What remediation needs to know about an alert (the alert's row, read by the
    monitor)."""

    alert_id: int
    rule: str
    environment: str
    deployment: str
    """The ``ModelDeployment``'s name (``fraud-api``; ``ModelDeployment/fraud-api`` works too)."""
    revision: str
    """The config-repository commit the deployment served when the rule broke."""
    metric: str
    summary: str
    severity: str
    series: list[dict[str, Any]]
    """Per window, oldest first: ``{"window": iso, "value": float, "threshold": float,
    "features": {name: psi}}`` (``features`` only for drift)."""
    since: datetime
    """The first window that broke the rule."""
    source: str = ""
    """Where the rule is declared (``policies/high-risk.yaml:14``), when the monitor knows."""

    @property
    def name(self) -> str:
        """The deployment's bare name (without ``ModelDeployment/``)."""
        return self.deployment.removeprefix("ModelDeployment/")

    @property
    def headline(self) -> str:
        """``Alert 42 (drift-rule, warning): <summary's first line>``."""
        return f"Alert {self.alert_id} ({self.rule}, {self.severity}): {first_line(self.summary)}"


@dataclass(frozen=True)
class RemediationOutcome:
    """What a remediation did, or would do, and what a person can do about it."""

    action: str
    """``rollback``, ``retrain``, ``scale`` or ``none``."""
    automatic: bool
    """The policy marks the remediation low-risk (done without asking)."""
    status: RemediationStatus
    """``done`` (committed), ``proposed`` (nothing written: a person runs it), ``failed``
    (tried, nothing written), ``skipped`` (nothing to do)."""
    branch: str | None
    """The branch committed to (or that would be), when there is one."""
    commit: str | None
    message: str
    """One paragraph a person can act on."""
    files: tuple[str, ...] = field(default=())
    """Paths the commit wrote."""

    def to_dict(self) -> dict[str, Any]:
        """JSON shape (the alert's ``remediation`` column, ``-o json``)."""
        return {
            "action": self.action,
            "automatic": self.automatic,
            "status": self.status,
            "branch": self.branch,
            "commit": self.commit,
            "message": self.message,
            "files": list(self.files),
        }


def first_line(text: str) -> str:
    """The first non-empty line of ``text``, stripped (commit subjects, one-line reasons)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def trailers(facts: AlertFacts, action: str) -> str:
    """The trailer block every remediation commit ends with."""
    return f"Alignops-Alert: {facts.alert_id}\nAlignops-Remediation: {action}\n"

"""An alert's remediation: proposed or done when it opens, run on request afterwards.

When an alert opens and its rule's remediation is not ``none``, the monitor calls
:func:`alignops.monitor.remediate.remediate` — with ``apply=True`` where the policy marks
the remediation automatic (low-risk), else ``apply=False``, which only proposes it — and
stores the outcome on the alert. ``alignops alerts remediate ID`` runs the remediation
stored on the alert with ``apply=True``: what was proposed is what runs, even if the
policy changed since (decision 0030).
"""

from __future__ import annotations

from typing import Any

from alignops.audit import AuditLog
from alignops.errors import UsageError
from alignops.manifests.config import Environment
from alignops.manifests.kinds.policy import Remediation
from alignops.monitor.alerts import Alert, AlertStore
from alignops.monitor.remediate import remediate
from alignops.monitor.remediate_facts import AlertFacts, RemediationOutcome
from alignops.reconcile.providers import ProviderContext
from alignops.source import ConfigRepository

__all__ = ["alert_facts", "remediate_alert", "stored_remediation"]


def alert_facts(alert: Alert) -> AlertFacts:
    """What remediation is told about ``alert``: its windows, oldest first."""
    threshold = float(alert.details.get("threshold", 0.0))
    series = []
    for window in alert.windows:
        point: dict[str, Any] = {
            "window": window["window"],
            "value": window["value"],
            "threshold": threshold,
        }
        if alert.metric == "psi":
            point["features"] = dict(window.get("over", {}))
        elif window.get("over"):
            point["attributes"] = dict(window["over"])
        series.append(point)
    return AlertFacts(
        alert_id=alert.id,
        rule=alert.rule,
        environment=alert.environment,
        deployment=alert.deployment,
        revision=alert.revision,
        metric=alert.metric,
        summary=alert.summary,
        severity=alert.severity,
        series=series,
        since=alert.first_window,
        source=str(alert.details.get("source", "")),
    )


def stored_remediation(alert: Alert) -> Remediation:
    """The remediation the alert's rule declared when the alert opened."""
    spec = alert.details.get("remediationSpec") or {}
    return Remediation.model_validate(spec)


def remediate_alert(
    alert: Alert,
    remediation: Remediation,
    *,
    store: AlertStore,
    repository: ConfigRepository,
    environment: Environment,
    audit: AuditLog,
    apply: bool,
    context: ProviderContext | None = None,
) -> RemediationOutcome:
    """Run (``apply``) or propose the remediation of ``alert`` and store the outcome on
    it. Failures come back as a ``failed`` outcome, never as an exception: the alert and
    its notifications must not be lost to a remediation that went wrong."""
    if remediation.action == "none":
        raise UsageError(
            f"alert {alert.id}: its rule declares no remediation (action: none); "
            f"see {alert.details.get('source', 'the rule')}"
        )
    try:
        outcome = remediate(
            alert_facts(alert),
            remediation,
            repository=repository,
            environment=environment,
            audit=audit,
            apply=apply,
            context=context,
        )
    except Exception as exc:  # noqa: BLE001 - reported on the alert; the monitor goes on
        outcome = RemediationOutcome(
            action=remediation.action,
            automatic=remediation.automatic,
            status="failed",
            branch=None,
            commit=None,
            message=f"{type(exc).__name__}: {exc}",
        )
    store.set_remediation(alert.id, outcome.to_dict())
    return outcome

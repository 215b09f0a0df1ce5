"""What an alert tells people: the :class:`~alignops.notify.Notification` of a window.

One notification per judged window that breaks the rule (``alert:<id>:<window start>``)
and one when the alert resolves (``alert:<id>:resolved``): the route's outbox keeps at
most one per key, so however many ticks judge a window it is sent once (decision 0030).
Fields, labels and text hold no secret: targets are written in Git, secrets stay in the
routes' references.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from alignops.monitor.alerts import Alert, WindowValue, iso
from alignops.monitor.rules import Rule
from alignops.notify.notification import Notification, Severity

__all__ = [
    "alert_title",
    "firing_notification",
    "format_value",
    "remediation_line",
    "resolved_notification",
    "window_text",
]

_TITLES = {
    "psi": "Data drift",
    "parity": "Selection-rate disparity",
    "p50": "Latency p50",
    "p95": "Latency p95",
    "p99": "Latency p99",
    "error_rate": "Error rate",
    "request_rate": "Request rate",
    "cold_start_rate": "Cold-start rate",
    "cold_start_ms": "Cold-start duration",
    "cost_rate": "Cost rate",
}


def format_value(metric: str, value: float) -> str:
    """A metric's value as people read it: ``0.312``, ``212.4 ms``, ``2.5 %``."""
    base = metric.removeprefix("anomaly:")
    if base in ("p50", "p95", "p99", "cold_start_ms"):
        return f"{value:,.1f} ms"
    if base in ("error_rate", "cold_start_rate"):
        return f"{value * 100:.2f} %"
    if base == "request_rate":
        return f"{value:,.3g} req/s"
    if base == "cost_rate":
        return f"{value:,.6f}/h"
    return f"{value:.3f}"


def alert_title(metric: str, deployment: str, environment: str) -> str:
    """``Data drift on employment-fair (production)``."""
    base = metric.removeprefix("anomaly:")
    what = _TITLES.get(base, base)
    if metric.startswith("anomaly:"):
        what = f"Anomalous {what[0].lower()}{what[1:]}"
    return f"{what} on {deployment} ({environment})"


def window_text(start: datetime, seconds: int) -> str:
    """``2026-11-23 12:00–13:00 UTC`` (dates on both ends when they differ)."""
    end = start + timedelta(seconds=seconds)
    first = start.strftime("%Y-%m-%d %H:%M")
    last = end.strftime("%H:%M" if end.date() == start.date() else "%Y-%m-%d %H:%M")
    if seconds % 60:
        first, last = start.strftime("%Y-%m-%d %H:%M:%S"), end.strftime("%H:%M:%S")
    return f"{first}–{last} UTC"


def _threshold(rule: Rule) -> str:
    if rule.is_anomaly:
        return f"score ≥ {rule.threshold:g} ({rule.anomaly.direction if rule.anomaly else 'up'})"
    return f"{rule.op} {format_value(rule.metric, rule.threshold)}"


def _over(rule: Rule, value: WindowValue) -> str:
    return ", ".join(
        f"{name} {format_value(rule.metric, v)}"
        for name, v in sorted(value.over.items(), key=lambda kv: -kv[1])
    )


def _common(rule: Rule, alert: Alert, seconds: int) -> tuple[dict[str, str], dict[str, str]]:
    labels = {
        "environment": rule.environment,
        "deployment": rule.deployment,
        "rule": rule.name,
        "metric": rule.metric,
        "severity": rule.severity,
        "model": rule.model,
    }
    fields = {
        "deployment": rule.deployment,
        "environment": rule.environment,
        "model": rule.model,
        "rule": rule.name,
        "metric": rule.metric,
        "threshold": _threshold(rule),
        "since": window_text(alert.first_window, seconds),
    }
    return fields, labels


def firing_notification(
    rule: Rule, alert: Alert, value: WindowValue, seconds: int, *, opened: bool
) -> Notification:
    """The notification of one breaking window of ``alert``."""
    fields, labels = _common(rule, alert, seconds)
    over = _over(rule, value)
    fields.update(
        {
            "revision": value.revision[:12],
            "value": format_value(rule.metric, value.value),
            "window": window_text(value.window, seconds),
            "requests": f"{value.requests:,}",
        }
    )
    if over:
        fields["features" if rule.metric == "psi" else "attributes"] = over
    count = int(alert.details.get("windowCount", 1))
    lines = [
        f"**{rule.metric} {format_value(rule.metric, value.value)}** ({_threshold(rule)}) on "
        f"`{rule.deployment}` in {rule.environment}, revision `{value.revision[:12]}`, "
        f"window {window_text(value.window, seconds)} ({value.requests:,} requests).",
    ]
    if over:
        noun = "Drifted features" if rule.metric == "psi" else "Protected attributes over"
        lines.append(f"{noun}: {over}.")
    if "score" in value.extra:
        lines.append(
            f"Baseline {format_value(rule.metric, float(value.extra.get('baseline', 0.0)))}, "
            f"robust score {float(value.extra['score']):.1f}."
        )
    lines.append(
        ("New alert" if opened else f"Firing for {count} windows")
        + f" since {window_text(alert.first_window, seconds)}; rule `{rule.name}` "
        f"({rule.source})."
    )
    remedy = remediation_line(alert.id, alert.remediation)
    if remedy:
        lines.append(remedy)
    lines.append(
        f"Silence: `alignops alerts silence --match deployment={rule.deployment} "
        f"--match rule={rule.name} --for 2h`; acknowledge: `alignops alerts ack {alert.id}`."
    )
    details: dict[str, Any] = {
        "alert": alert.id,
        "state": "firing",
        "opened": opened,
        "rule": rule.name,
        "source": rule.source,
        "window": iso(value.window),
        "windowSeconds": seconds,
        "firstWindow": iso(alert.first_window),
        "revision": value.revision,
        "requests": value.requests,
        "metric": rule.metric,
        "value": value.value,
        "op": rule.op,
        "threshold": rule.threshold,
        "over": value.over,
        **({"anomaly": value.extra} if value.extra else {}),
        "remediation": alert.remediation,
    }
    return Notification(
        kind="firing",
        title=alert_title(rule.metric, rule.deployment, rule.environment),
        severity=_severity(rule.severity),
        fields=fields,
        labels=labels,
        dedup_key=f"alert:{alert.id}:{iso(value.window)}",
        links={"alert": f"/alerts/{alert.id}"},
        text="\n\n".join(lines),
        details=details,
    )


def resolved_notification(
    rule: Rule, alert: Alert, value: WindowValue | None, seconds: int, reason: str
) -> Notification:
    """The one notice that ``alert`` resolved (by a judged window, or for ``reason``)."""
    fields, labels = _common(rule, alert, seconds)
    count = int(alert.details.get("windowCount", 1))
    first = f"Resolved after {count} window{'s' if count != 1 else ''} since " + window_text(
        alert.first_window, seconds
    )
    if value is not None:
        fields.update(
            {
                "revision": value.revision[:12],
                "value": format_value(rule.metric, value.value),
                "window": window_text(value.window, seconds),
            }
        )
        text = (
            f"{first}: {rule.metric} is {format_value(rule.metric, value.value)} in window "
            f"{window_text(value.window, seconds)} ({_threshold(rule)} no longer holds)."
        )
    else:
        text = f"{first}: {reason}."
    return Notification(
        kind="resolved",
        title="Resolved: " + alert_title(rule.metric, rule.deployment, rule.environment),
        severity=_severity(rule.severity),
        fields=fields,
        labels=labels,
        dedup_key=f"alert:{alert.id}:resolved",
        links={"alert": f"/alerts/{alert.id}"},
        text=text,
        details={
            "alert": alert.id,
            "state": "resolved",
            "rule": rule.name,
            "reason": reason,
            "window": iso(value.window) if value is not None else None,
            "value": value.value if value is not None else None,
            "firstWindow": iso(alert.first_window),
            "lastWindow": iso(alert.last_window),
        },
    )


def remediation_line(alert_id: int, outcome: dict[str, Any] | None) -> str:
    """``Remediation (retrain, proposed): proposed: write a retraining request …; run
    `alignops alerts remediate 7` to do it`` — the outcome's own message, which says
    what was done (branch, commit) or the command that does it."""
    if not outcome:
        return ""
    status = str(outcome.get("status", ""))
    action = str(outcome.get("action", ""))
    message = str(outcome.get("message", "")).strip()
    command = f"alignops alerts remediate {alert_id}"
    if status in ("proposed", "failed") and command not in message:
        message += f"{'; ' if message else ''}run `{command}`"
    return f"Remediation ({action}, {status}): {message}"


def _severity(text: str) -> Severity:
    return cast(Severity, text if text in ("info", "warning", "critical") else "warning")

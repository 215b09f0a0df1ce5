"""What ``alignops monitor status`` shows: per deployment, its latest windows and alerts.

A window is ``open`` until it has ended (and settled), ``judged`` once closed with at
least ``monitoring.minRequests`` requests, and ``too few requests`` otherwise — shown,
not judged. Drift and fairness are shown as the largest PSI (with its feature) and the
largest parity difference (with its attribute) against each revision's reference.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from alignops.monitor.alerts import AlertStore, iso
from alignops.monitor.judge import Slot, service_metric, slots
from alignops.monitor.reference import ReferenceProfiles
from alignops.monitor.rules import RulePlan
from alignops.monitor.windows import load_windows
from alignops.store import Database

__all__ = ["deployment_status", "slot_status"]


def slot_status(
    slot: Slot,
    deployment: str,
    references: ReferenceProfiles,
    *,
    now: datetime,
    settle: timedelta,
    min_requests: int,
    min_group_size: int = 1,
) -> dict[str, Any]:
    """One window of a deployment (its revisions added together) as status shows it."""
    if not slot.closed(now, settle):
        state = "open"
    elif slot.requests >= min_requests:
        state = "judged"
    else:
        state = "too few requests"
    windows = slot.windows

    def metric(name: str) -> float | None:
        value = service_metric(name, windows)
        return None if value is None or not math.isfinite(value) else value

    psi: tuple[str, float] | None = None
    parity: tuple[str, float] | None = None
    notes: list[str] = []
    for window in windows:
        reference = references.get(deployment, window.revision)
        if reference.profile is None:
            notes.append(f"{window.revision[:12]}: no reference profile: {reference.problem}")
        else:
            for feature, value in window.psi(reference.profile).items():
                if psi is None or value > psi[1]:
                    psi = (feature, value)
        for attribute in reference.protected:
            difference = window.parity_difference(attribute, min_group_size)
            if difference is not None and (parity is None or difference > parity[1]):
                parity = (attribute, difference)
        notes.extend(window.notes)
    return {
        "start": iso(slot.start),
        "end": iso(slot.end),
        "state": state,
        "revisions": [w.revision for w in windows],
        "requests": slot.requests,
        "errors": sum(w.errors for w in windows),
        "p50": metric("p50"),
        "p95": metric("p95"),
        "p99": metric("p99"),
        "errorRate": metric("error_rate"),
        "requestRate": metric("request_rate"),
        "coldStarts": sum(w.cold_starts for w in windows),
        "coldStartMs": metric("cold_start_ms"),
        "costRate": metric("cost_rate"),
        "maxPsi": {"feature": psi[0], "value": psi[1]} if psi else None,
        "parity": {"attribute": parity[0], "value": parity[1]} if parity else None,
        "notes": list(dict.fromkeys(notes)),
    }


def deployment_status(
    plan: RulePlan,
    *,
    database: Database,
    references: ReferenceProfiles,
    alerts: AlertStore,
    now: datetime,
    window_seconds: int,
    min_requests: int,
    settle: timedelta,
    windows: int = 3,
) -> list[dict[str, Any]]:
    """Every ModelDeployment of ``plan``'s environment: rules, what is left unwatched,
    the latest ``windows`` windows and the firing alerts."""
    out = []
    since = now - timedelta(seconds=(windows + 1) * window_seconds)
    for deployment in plan.deployments:
        rules = [r for r in plan.rules if r.deployment == deployment]
        parity_rules = [r for r in rules if r.base_metric == "parity"]
        min_group = min((r.min_group_size for r in parity_rules), default=1)
        found = load_windows(
            database,
            environment=plan.environment,
            deployment=deployment,
            since=since,
            window_seconds=window_seconds,
        )
        latest = slots(found)[-windows:]
        out.append(
            {
                "environment": plan.environment,
                "deployment": deployment,
                "revision": plan.revision,
                "rules": [r.to_dict() for r in rules],
                "unwatched": [u.to_dict() for u in plan.unwatched if u.deployment == deployment],
                "windows": [
                    slot_status(
                        s,
                        deployment,
                        references,
                        now=now,
                        settle=settle,
                        min_requests=min_requests,
                        min_group_size=min_group,
                    )
                    for s in reversed(latest)
                ],
                "alerts": [
                    a.to_dict()
                    for a in alerts.find(
                        state="firing", environment=plan.environment, deployment=deployment
                    )
                ],
            }
        )
    return out

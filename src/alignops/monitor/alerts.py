"""Alerts: the rows of the ``alerts`` table and their transitions (decision 0030).

An alert is identified by its fingerprint — (rule, environment, deployment) — and at
most one per fingerprint is open (``firing``) at a time:

- a judged window that breaks the rule, with no open alert, **opens** one;
- each later judged window that still breaks it **updates** it (``last_window``, the
  window's values appended to ``details``);
- the first judged window that no longer breaks it **resolves** it; so does the rule
  disappearing from the environment (the policy, the rule or the deployment removed).

Every transition is a compare-and-set in one transaction — an update only moves
``last_window`` forward, a resolve only touches a ``firing`` row — so two monitors
judging the same window (the server and ``alignops monitor run --once``) change it
once, and only the one that changed it records it in the audit log and notifies.
``ack`` records who looked at it; an acknowledged alert still updates and resolves.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, insert, select, update

from alignops.audit import AuditLog, current_actor
from alignops.errors import UsageError
from alignops.notify.outbox import OutboxRow
from alignops.store import Database
from alignops.store.schema import alerts, notifications

__all__ = ["MAX_WINDOWS_KEPT", "Alert", "AlertStore", "WindowValue", "iso", "parse_time"]

MAX_WINDOWS_KEPT = 500
"""Values of at most this many windows stay in ``details`` (the newest); the count of
every window the alert lasted is kept beside them."""

Clock = Callable[[], datetime]


def iso(moment: datetime) -> str:
    """A time as the alert tables store it: UTC ISO 8601 to the second, so text order
    is time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class WindowValue:
    """What one judged window measured for an alert's rule."""

    window: datetime
    revision: str
    requests: int
    value: float
    over: dict[str, float] = field(default_factory=dict)
    """Every feature (psi) or protected attribute (parity) past the threshold."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else worth showing (an anomaly's baseline and score)."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "window": iso(self.window),
            "revision": self.revision,
            "requests": self.requests,
            "value": self.value,
        }
        if self.over:
            data["over"] = self.over
        data.update(self.extra)
        return data


@dataclass(frozen=True)
class Alert:
    """One row of the ``alerts`` table."""

    id: int
    fingerprint: str
    rule: str
    environment: str
    deployment: str
    revision: str
    metric: str
    severity: str
    state: str
    opened_at: datetime
    resolved_at: datetime | None
    first_window: datetime
    last_window: datetime
    acked_by: str | None
    acked_at: datetime | None
    summary: str
    details: dict[str, Any]
    remediation: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Alert:
        def maybe(text: str | None) -> datetime | None:
            return parse_time(text) if text else None

        return cls(
            id=row["id"],
            fingerprint=row["fingerprint"],
            rule=row["rule"],
            environment=row["environment"],
            deployment=row["deployment"],
            revision=row["revision"],
            metric=row["metric"],
            severity=row["severity"],
            state=row["state"],
            opened_at=parse_time(row["opened_at"]),
            resolved_at=maybe(row["resolved_at"]),
            first_window=parse_time(row["first_window"]),
            last_window=parse_time(row["last_window"]),
            acked_by=row["acked_by"],
            acked_at=maybe(row["acked_at"]),
            summary=row["summary"],
            details=json.loads(row["details"]),
            remediation=json.loads(row["remediation"]) if row["remediation"] else None,
        )

    @property
    def firing(self) -> bool:
        return self.state == "firing"

    @property
    def model(self) -> str:
        return str(self.details.get("model") or "")

    @property
    def resolved_window(self) -> datetime | None:
        """The judged window that resolved it (None: still firing, or resolved because
        its rule went away)."""
        text = self.details.get("resolvedWindow")
        return parse_time(text) if text else None

    @property
    def windows(self) -> list[dict[str, Any]]:
        return list(self.details.get("windows", []))

    def labels(self) -> dict[str, str]:
        """What routes and silences match on."""
        return {
            "environment": self.environment,
            "deployment": self.deployment,
            "rule": self.rule,
            "metric": self.metric,
            "severity": self.severity,
            "model": self.model,
        }

    def to_dict(self) -> dict[str, Any]:
        def maybe(moment: datetime | None) -> str | None:
            return iso(moment) if moment else None

        return {
            "id": self.id,
            "state": self.state,
            "rule": self.rule,
            "environment": self.environment,
            "deployment": self.deployment,
            "revision": self.revision,
            "model": self.model,
            "metric": self.metric,
            "severity": self.severity,
            "summary": self.summary,
            "openedAt": iso(self.opened_at),
            "resolvedAt": maybe(self.resolved_at),
            "firstWindow": iso(self.first_window),
            "lastWindow": iso(self.last_window),
            "ackedBy": self.acked_by,
            "ackedAt": maybe(self.acked_at),
            "details": self.details,
            "remediation": self.remediation,
            "link": f"/alerts/{self.id}",
        }


class AlertStore:
    """The ``alerts`` table: reads and compare-and-set transitions. The monitor records
    opening, updating and resolving in the audit log (with what it notified); ``ack``
    is recorded here."""

    def __init__(self, database: Database, audit: AuditLog | None, *, clock: Clock) -> None:
        self.database = database
        self.audit = audit
        self.clock = clock

    # -- reading ------------------------------------------------------------------------

    def get(self, alert_id: int) -> Alert:
        """The alert ``alert_id``; a :class:`UsageError` if there is none."""
        with self.database.transaction() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).one_or_none()
        if row is None:
            raise UsageError(f"no alert {alert_id}; `alignops alerts list --state all` lists them")
        return Alert.from_row(row._mapping)

    def latest(self, fingerprint: str) -> Alert | None:
        """The newest alert of a fingerprint, firing or resolved."""
        query = (
            select(alerts)
            .where(alerts.c.fingerprint == fingerprint)
            .order_by(alerts.c.id.desc())
            .limit(1)
        )
        with self.database.transaction() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else Alert.from_row(row._mapping)

    def find(
        self,
        *,
        state: str | None = "firing",
        environment: str | None = None,
        deployment: str | None = None,
        limit: int | None = None,
    ) -> list[Alert]:
        """Alerts, newest first; ``state`` None: every state."""
        query = select(alerts).order_by(alerts.c.id.desc())
        if state is not None:
            query = query.where(alerts.c.state == state)
        if environment is not None:
            query = query.where(alerts.c.environment == environment)
        if deployment is not None:
            query = query.where(alerts.c.deployment == deployment)
        if limit:
            query = query.limit(limit)
        with self.database.transaction() as conn:
            return [Alert.from_row(r._mapping) for r in conn.execute(query)]

    # -- transitions --------------------------------------------------------------------

    def open(
        self,
        *,
        fingerprint: str,
        rule: str,
        environment: str,
        deployment: str,
        metric: str,
        severity: str,
        summary: str,
        details: dict[str, Any],
        values: list[WindowValue],
    ) -> Alert | None:
        """A new firing alert for the windows ``values`` (oldest first); None if the
        fingerprint has a firing alert already (another monitor opened it)."""
        now = self.clock()
        last = values[-1]
        body = {**details, "windows": [v.to_dict() for v in values], "windowCount": len(values)}
        with self.database.transaction() as conn:
            busy = conn.execute(
                select(alerts.c.id).where(
                    and_(alerts.c.fingerprint == fingerprint, alerts.c.state == "firing")
                )
            ).first()
            if busy is not None:
                return None
            row_id = conn.execute(
                insert(alerts).values(
                    fingerprint=fingerprint,
                    rule=rule,
                    environment=environment,
                    deployment=deployment,
                    revision=last.revision,
                    metric=metric,
                    severity=severity,
                    state="firing",
                    opened_at=iso(now),
                    resolved_at=None,
                    first_window=iso(values[0].window),
                    last_window=iso(last.window),
                    acked_by=None,
                    acked_at=None,
                    summary=summary[:1000],
                    details=_dumps(body),
                    remediation=None,
                )
            ).inserted_primary_key
            assert row_id is not None
        return self.get(int(row_id[0]))

    def update(self, alert: Alert, value: WindowValue, summary: str) -> Alert | None:
        """Add a later breaking window to a firing alert; None if that window (or a
        later one) was added already, or the alert is no longer firing."""
        with self.database.transaction() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert.id)).one()
            current = Alert.from_row(row._mapping)
            if not current.firing or current.last_window >= value.window:
                return None
            details = dict(current.details)
            kept = [*details.get("windows", []), value.to_dict()][-MAX_WINDOWS_KEPT:]
            details["windows"] = kept
            details["windowCount"] = int(details.get("windowCount", 0)) + 1
            conn.execute(
                update(alerts)
                .where(alerts.c.id == alert.id)
                .values(
                    last_window=iso(value.window),
                    revision=value.revision,
                    summary=summary[:1000],
                    details=_dumps(details),
                )
            )
        return self.get(alert.id)

    def resolve(
        self, alert: Alert, *, window: datetime | None, reason: str, value: WindowValue | None
    ) -> Alert | None:
        """Resolve a firing alert: by the judged ``window`` that no longer breaks its
        rule (``value`` what it measured), or for ``reason`` with no window. None if it
        was resolved already."""
        now = self.clock()
        with self.database.transaction() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert.id)).one()
            current = Alert.from_row(row._mapping)
            if not current.firing:
                return None
            details = dict(current.details)
            details["resolvedReason"] = reason
            if window is not None:
                details["resolvedWindow"] = iso(window)
            if value is not None:
                details["resolvedBy"] = value.to_dict()
            conn.execute(
                update(alerts)
                .where(and_(alerts.c.id == alert.id, alerts.c.state == "firing"))
                .values(state="resolved", resolved_at=iso(now), details=_dumps(details))
            )
        return self.get(alert.id)

    def ack(self, alert_id: int, *, actor: str | None = None) -> Alert:
        """Record who acknowledged the alert (``audit.current_actor()`` by default)."""
        who = actor or current_actor()
        now = self.clock()
        alert = self.get(alert_id)
        with self.database.transaction() as conn:
            conn.execute(
                update(alerts)
                .where(alerts.c.id == alert_id)
                .values(acked_by=who[:253], acked_at=iso(now))
            )
        if self.audit is not None:
            self.audit.append(
                "alert.acked",
                f"alert:{alert_id}",
                {
                    "alert": alert_id,
                    "rule": alert.rule,
                    "environment": alert.environment,
                    "deployment": alert.deployment,
                    "state": alert.state,
                    "by": who,
                },
                actor=who,
                now=now,
            )
        return self.get(alert_id)

    def notifications(self, alert_id: int) -> list[OutboxRow]:
        """The outbox rows of an alert's notifications (every window and the resolve
        notice, every route), oldest first; payloads are not secret but not shown."""
        query = (
            select(notifications)
            .where(notifications.c.dedup_key.like(f"alert:{int(alert_id)}:%"))
            .order_by(notifications.c.id)
        )
        with self.database.transaction() as conn:
            return [OutboxRow(**row._mapping) for row in conn.execute(query)]

    def set_remediation(self, alert_id: int, outcome: dict[str, Any]) -> Alert:
        """Store what remediation did or proposes (JSON) on the alert."""
        with self.database.transaction() as conn:
            conn.execute(
                update(alerts).where(alerts.c.id == alert_id).values(remediation=_dumps(outcome))
            )
        return self.get(alert_id)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)

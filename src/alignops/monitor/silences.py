"""Silences: matchers on alert labels that hold an alert's notifications until they expire.

A silence matches an alert when every matcher (``label=value``) equals the alert's
label (``environment``, ``deployment``, ``rule``, ``metric``, ``severity``, ``model``).
While it is active, the alert is still opened, updated and resolved — only nobody is
told; the first window judged after it expires notifies again (decision 0030).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, select, update

from alignops.audit import AuditLog, current_actor
from alignops.errors import UsageError
from alignops.monitor.alerts import iso, parse_time
from alignops.store import Database
from alignops.store.schema import silences

__all__ = [
    "LABELS",
    "Silence",
    "SilenceStore",
    "parse_duration",
    "parse_matchers",
]

LABELS = ("environment", "deployment", "rule", "metric", "severity", "model")
"""The labels of an alert a silence may match."""

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> timedelta:
    """``2h``, ``90m``, ``1d12h``, ``45s`` → a positive duration; else a UsageError."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise UsageError(f"--for {text!r}: expected a duration such as 30m, 2h or 1d12h")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if duration <= timedelta(0):
        raise UsageError(f"--for {text!r}: a silence must last more than 0 seconds")
    return duration


def parse_matchers(items: Sequence[str]) -> dict[str, str]:
    """``["deployment=fraud-api", "metric=psi"]`` → a dict; labels must be known."""
    matchers: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise UsageError(f"--match {item!r}: expected LABEL=VALUE, e.g. deployment=fraud-api")
        if key not in LABELS:
            raise UsageError(f"--match {item!r}: unknown label {key!r}; use {', '.join(LABELS)}")
        if key in matchers and matchers[key] != value:
            raise UsageError(f"--match: {key} given twice ({matchers[key]!r} and {value!r})")
        matchers[key] = value
    if not matchers:
        raise UsageError("give at least one --match LABEL=VALUE")
    return matchers


@dataclass(frozen=True)
class Silence:
    """One row of the ``silences`` table."""

    id: int
    matchers: dict[str, str]
    starts_at: datetime
    expires_at: datetime
    created_by: str
    comment: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Silence:
        return cls(
            id=row["id"],
            matchers=json.loads(row["matchers"]),
            starts_at=parse_time(row["starts_at"]),
            expires_at=parse_time(row["expires_at"]),
            created_by=row["created_by"],
            comment=row["comment"],
            created_at=parse_time(row["created_at"]),
        )

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.expires_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.matchers.items())

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "matchers": self.matchers,
            "startsAt": iso(self.starts_at),
            "expiresAt": iso(self.expires_at),
            "createdBy": self.created_by,
            "comment": self.comment,
            "createdAt": iso(self.created_at),
        }
        if now is not None:
            data["active"] = self.active(now)
        return data


class SilenceStore:
    """The ``silences`` table; creating and ending silences is recorded in the audit log."""

    def __init__(
        self, database: Database, audit: AuditLog | None, *, clock: Callable[[], datetime]
    ) -> None:
        self.database = database
        self.audit = audit
        self.clock = clock

    def create(
        self,
        matchers: Mapping[str, str],
        duration: timedelta,
        *,
        comment: str = "",
        actor: str | None = None,
    ) -> Silence:
        who = actor or current_actor()
        now = self.clock()
        with self.database.transaction() as conn:
            row_id = conn.execute(
                insert(silences).values(
                    matchers=json.dumps(dict(matchers), sort_keys=True),
                    starts_at=iso(now),
                    expires_at=iso(now + duration),
                    created_by=who[:253],
                    comment=comment[:1000],
                    created_at=iso(now),
                )
            ).inserted_primary_key
            assert row_id is not None
        silence = self.get(int(row_id[0]))
        if self.audit is not None:
            self.audit.append(
                "silence.created",
                f"silence:{silence.id}",
                silence.to_dict(),
                actor=who,
                now=now,
            )
        return silence

    def get(self, silence_id: int) -> Silence:
        with self.database.transaction() as conn:
            row = conn.execute(select(silences).where(silences.c.id == silence_id)).one_or_none()
        if row is None:
            raise UsageError(f"no silence {silence_id}; `alignops alerts silences` lists them")
        return Silence.from_row(row._mapping)

    def end(self, silence_id: int, *, actor: str | None = None) -> Silence:
        """End a silence now (``unsilence``): it expires at once and stays listed."""
        who = actor or current_actor()
        now = self.clock()
        silence = self.get(silence_id)
        if silence.expires_at <= now:
            raise UsageError(f"silence {silence_id} expired at {iso(silence.expires_at)} already")
        with self.database.transaction() as conn:
            conn.execute(
                update(silences)
                .where(and_(silences.c.id == silence_id, silences.c.expires_at > iso(now)))
                .values(expires_at=iso(now))
            )
        ended = self.get(silence_id)
        if self.audit is not None:
            self.audit.append(
                "silence.ended", f"silence:{silence_id}", ended.to_dict(), actor=who, now=now
            )
        return ended

    def find(self, *, active_only: bool = False) -> list[Silence]:
        """Silences, newest first (only those in force with ``active_only``)."""
        query = select(silences).order_by(silences.c.id.desc())
        now = self.clock()
        if active_only:
            query = query.where(silences.c.expires_at > iso(now))
        with self.database.transaction() as conn:
            found = [Silence.from_row(r._mapping) for r in conn.execute(query)]
        return [s for s in found if s.active(now)] if active_only else found

    def matching(self, labels: Mapping[str, str]) -> list[Silence]:
        """The silences in force now that match ``labels``."""
        return [s for s in self.find(active_only=True) if s.matches(labels)]

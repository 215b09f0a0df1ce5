"""What :meth:`Notifier.enqueue` and :meth:`Notifier.dispatch` tell their caller."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from alignops.notify.routes import Unrouted

__all__ = ["Delivery", "DispatchReport", "Enqueued"]


class Enqueued(list[int]):
    """The ids of the outbox rows written for a notification (one per route), with the
    ids that were already there (the same ``dedup_key`` enqueued before) and the named
    targets it cannot go to."""

    def __init__(
        self,
        written: Iterable[int] = (),
        *,
        existing: Iterable[int] = (),
        problems: Iterable[Unrouted] = (),
    ) -> None:
        super().__init__(written)
        self.existing: tuple[int, ...] = tuple(existing)
        self.problems: tuple[Unrouted, ...] = tuple(problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "written": list(self),
            "existing": list(self.existing),
            "problems": [{"target": p.target, "reason": p.reason} for p in self.problems],
        }


@dataclass(frozen=True)
class Delivery:
    """One outbox row as a dispatch left it."""

    id: int
    route: str
    target: str
    kind: str
    dedup_key: str
    attempts: int
    error: str | None = None
    """Why the attempt failed or the row waits (secrets redacted)."""
    next_attempt_at: str | None = None
    """For a retried, waiting or held row: when it is due again (held: when the rate
    limit allows the next send)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "route": self.route,
            "target": self.target,
            "kind": self.kind,
            "dedupKey": self.dedup_key,
            "attempts": self.attempts,
            "error": self.error,
            "nextAttemptAt": self.next_attempt_at,
        }


@dataclass(frozen=True)
class DispatchReport:
    """What one :meth:`Notifier.dispatch` did with the rows that were due.

    - ``sent``: delivered now;
    - ``retrying``: this attempt failed, the row is due again at ``next_attempt_at``;
    - ``failed``: the last allowed attempt failed (or the route no longer exists):
      reported in the audit log as ``notification.failed``, not retried;
    - ``held``: the route's ``rateLimit.maxPerHour`` is used up; the row stays pending
      and is due again at ``next_attempt_at``, when the hour allows;
    - ``waiting``: the route cannot send at all (its secret is missing); the row stays
      pending without using an attempt.
    """

    sent: tuple[Delivery, ...] = field(default=())
    retrying: tuple[Delivery, ...] = field(default=())
    failed: tuple[Delivery, ...] = field(default=())
    held: tuple[Delivery, ...] = field(default=())
    waiting: tuple[Delivery, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Nothing failed or waits on a missing secret."""
        return not (self.failed or self.waiting)

    def counts(self) -> dict[str, int]:
        return {
            "sent": len(self.sent),
            "retrying": len(self.retrying),
            "failed": len(self.failed),
            "held": len(self.held),
            "waiting": len(self.waiting),
        }

    def held_by_route(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for delivery in self.held:
            out[delivery.route] = out.get(delivery.route, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "sent": [d.to_dict() for d in self.sent],
            "retrying": [d.to_dict() for d in self.retrying],
            "failed": [d.to_dict() for d in self.failed],
            "held": [d.to_dict() for d in self.held],
            "waiting": [d.to_dict() for d in self.waiting],
        }

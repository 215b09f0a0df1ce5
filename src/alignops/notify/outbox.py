"""The outbox: the ``notifications`` table, read and written in one place.

A row is one notification for one route. Its life::

    pending ──send ok──► sent
       │  ▲
       │  └── failed attempt (attempts < maxAttempts): next_attempt_at = now + backoff
       └──── failed attempt number maxAttempts ──► failed

``(route, dedup_key)`` is unique: writing the same notification twice for a route adds
nothing. A dispatcher *claims* a due row before sending by moving its
``next_attempt_at`` past a lease (one conditional UPDATE), so two dispatchers never send
the same row at once; a dispatcher that dies after the claim leaves the row to become due
again when the lease ends (at least once, decision 0028).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, and_, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from alignops.store.db import Database
from alignops.store.schema import notifications

__all__ = ["NewRow", "Outbox", "OutboxRow", "Status"]

Status = Literal["pending", "sent", "failed"]
_ERROR_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One row of the outbox."""

    id: int
    route: str
    target: str
    dedup_key: str
    kind: str
    payload: str
    status: str
    attempts: int
    next_attempt_at: str
    created_at: str
    sent_at: str | None
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "route": self.route,
            "target": self.target,
            "dedupKey": self.dedup_key,
            "kind": self.kind,
            "status": self.status,
            "attempts": self.attempts,
            "nextAttemptAt": self.next_attempt_at,
            "createdAt": self.created_at,
            "sentAt": self.sent_at,
            "lastError": self.last_error,
        }


@dataclass(frozen=True, slots=True)
class NewRow:
    """A row to write: one route of a notification."""

    route: str
    target: str
    status: Status = "pending"
    last_error: str | None = None


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= _ERROR_LIMIT:
        return text
    return text[: _ERROR_LIMIT - 1] + "…"


class Outbox:
    """The ``notifications`` table of a state database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def __repr__(self) -> str:
        return f"Outbox({self.database.url})"

    # -- writing notifications ------------------------------------------------------------

    def add(
        self,
        rows: Iterable[NewRow],
        *,
        dedup_key: str,
        kind: str,
        payload: str,
        now: str,
    ) -> tuple[list[int], list[int]]:
        """Write the rows not already there; ``(ids written, ids already there)`` in the
        order of ``rows``."""
        written: list[int] = []
        existing: list[int] = []
        with self.database.transaction() as conn:
            for row in rows:
                found = self._find(conn, row.route, dedup_key)
                if found is not None:
                    existing.append(found)
                    continue
                values = {
                    "route": row.route[:253],
                    "target": row.target[:500],
                    "dedup_key": dedup_key,
                    "kind": kind,
                    "payload": payload,
                    "status": row.status,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "sent_at": None,
                    "last_error": _cut(row.last_error),
                }
                if self._insert_new(conn, values):
                    new_id = self._find(conn, row.route[:253], dedup_key)
                    assert new_id is not None
                    written.append(new_id)
                else:  # another writer added it between the look-up and the insert
                    found = self._find(conn, row.route[:253], dedup_key)
                    assert found is not None
                    existing.append(found)
        return written, existing

    @staticmethod
    def _find(conn: Connection, route: str, dedup_key: str) -> int | None:
        found = conn.execute(
            select(notifications.c.id).where(
                notifications.c.route == route[:253], notifications.c.dedup_key == dedup_key
            )
        ).scalar_one_or_none()
        return None if found is None else int(found)

    @staticmethod
    def _insert_new(conn: Connection, values: dict[str, Any]) -> bool:
        """Insert unless ``(route, dedup_key)`` exists; whether a row was written."""
        dialect = conn.dialect.name
        if dialect == "sqlite":
            statement: Any = sqlite.insert(notifications).on_conflict_do_nothing(
                index_elements=["route", "dedup_key"]
            )
        elif dialect == "postgresql":
            statement = postgresql.insert(notifications).on_conflict_do_nothing(
                index_elements=["route", "dedup_key"]
            )
        else:
            statement = insert(notifications)
        result = conn.execute(statement.values(**values))
        return bool(result.rowcount)

    # -- reading --------------------------------------------------------------------------

    def due(self, now: str, *, limit: int) -> list[OutboxRow]:
        """Pending rows whose time has come, oldest due first."""
        query = (
            select(notifications)
            .where(notifications.c.status == "pending", notifications.c.next_attempt_at <= now)
            .order_by(notifications.c.next_attempt_at, notifications.c.id)
            .limit(limit)
        )
        with self.database.transaction() as conn:
            return [OutboxRow(**row._mapping) for row in conn.execute(query)]

    def sent_since(self, since: str) -> dict[str, list[str]]:
        """Route → times of its sends after ``since``, oldest first (the rate limit)."""
        query = (
            select(notifications.c.route, notifications.c.sent_at)
            .where(notifications.c.status == "sent", notifications.c.sent_at > since)
            .order_by(notifications.c.sent_at)
        )
        out: dict[str, list[str]] = {}
        with self.database.transaction() as conn:
            for route, sent_at in conn.execute(query):
                out.setdefault(route, []).append(sent_at)
        return out

    def rows(
        self,
        *,
        status: str | None = None,
        route: str | None = None,
        dedup_key: str | None = None,
        limit: int | None = None,
    ) -> list[OutboxRow]:
        """Rows, newest first, optionally by status, route and dedup key."""
        query = select(notifications).order_by(notifications.c.id.desc())
        if status is not None:
            query = query.where(notifications.c.status == status)
        if route is not None:
            query = query.where(notifications.c.route == route)
        if dedup_key is not None:
            query = query.where(notifications.c.dedup_key == dedup_key)
        if limit is not None:
            query = query.limit(limit)
        with self.database.transaction() as conn:
            return [OutboxRow(**row._mapping) for row in conn.execute(query)]

    def get(self, row_id: int) -> OutboxRow | None:
        with self.database.transaction() as conn:
            row = conn.execute(
                select(notifications).where(notifications.c.id == row_id)
            ).one_or_none()
        return None if row is None else OutboxRow(**row._mapping)

    def counts(self) -> dict[str, int]:
        """Rows per status."""
        query = select(notifications.c.status, func.count()).group_by(notifications.c.status)
        with self.database.transaction() as conn:
            return {str(status): int(n) for status, n in conn.execute(query)}

    # -- changing a row -------------------------------------------------------------------

    def claim(self, row: OutboxRow, *, lease_until: str) -> bool:
        """Take a due row for sending; False if another dispatcher took it first."""
        with self.database.transaction() as conn:
            result = conn.execute(
                update(notifications)
                .where(
                    and_(
                        notifications.c.id == row.id,
                        notifications.c.status == "pending",
                        notifications.c.next_attempt_at == row.next_attempt_at,
                    )
                )
                .values(next_attempt_at=lease_until)
            )
            return bool(result.rowcount)

    def hold(self, row: OutboxRow, *, until: str) -> bool:
        """Leave a due row pending until ``until`` (its route's rate limit); False if
        another dispatcher took it first."""
        return self.claim(row, lease_until=until)

    def mark_sent(self, row_id: int, *, attempts: int, sent_at: str) -> None:
        self._set(row_id, status="sent", attempts=attempts, sent_at=sent_at)

    def mark_retry(self, row_id: int, *, attempts: int, next_attempt_at: str, error: str) -> None:
        self._set(
            row_id, attempts=attempts, next_attempt_at=next_attempt_at, last_error=_cut(error)
        )

    def mark_failed(self, row_id: int, *, attempts: int, error: str) -> None:
        self._set(row_id, status="failed", attempts=attempts, last_error=_cut(error))

    def mark_waiting(self, row_id: int, *, next_attempt_at: str, error: str) -> bool:
        """Keep a row pending and due without using an attempt (its route cannot send:
        a missing secret); whether ``error`` is new for the row."""
        with self.database.transaction() as conn:
            before = conn.execute(
                select(notifications.c.last_error).where(notifications.c.id == row_id)
            ).scalar_one_or_none()
            conn.execute(
                update(notifications)
                .where(notifications.c.id == row_id)
                .values(next_attempt_at=next_attempt_at, last_error=_cut(error))
            )
        return before != _cut(error)

    def _set(self, row_id: int, **values: Any) -> None:
        with self.database.transaction() as conn:
            conn.execute(update(notifications).where(notifications.c.id == row_id).values(**values))

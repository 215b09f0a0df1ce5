"""The audit log: append-only records, each hashing its content and its predecessor.

``hash(n) = sha256(canonical JSON of [seq, recordedAt, actor, action, subject, payload,
hash(n-1)])`` with ``hash(0)`` = 64 zeros. A head row, written in the same transaction
as each record, holds the last ``seq`` and hash. :meth:`AuditLog.verify` recomputes the
chain and names what it finds:

- **edited**: a record's content no longer matches its hash;
- **deleted**: a ``seq`` is missing;
- **reordered** (or a record inserted): a record's ``prev_hash`` is not its
  predecessor's hash;
- **truncated**: the last records are gone, so the chain ends before the head.

Whoever can rewrite the database can rewrite the head too; to catch that, keep the head
hash printed by ``alignops audit verify`` elsewhere (CI logs, a Git note) and pass it
back with ``--expect-head``.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import insert, select, update

from alignops.store.db import Database
from alignops.store.schema import audit_head, audit_records

__all__ = ["GENESIS", "AuditLog", "AuditRecord", "ChainProblem", "VerifyReport", "current_actor"]

GENESIS = "0" * 64


def current_actor() -> str:
    """Who is acting: ``ALIGNOPS_ACTOR``, else the OS user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return os.environ.get("ALIGNOPS_ACTOR") or user


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(
    seq: int, recorded_at: str, actor: str, action: str, subject: str, payload: str, prev: str
) -> str:
    material = _canonical([seq, recorded_at, actor, action, subject, payload, prev])
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    recorded_at: str
    actor: str
    action: str
    subject: str
    payload: str
    prev_hash: str
    hash: str

    @property
    def data(self) -> Any:
        return json.loads(self.payload)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "recordedAt": self.recorded_at,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "payload": self.data,
            "prevHash": self.prev_hash,
            "hash": self.hash,
        }


ProblemKind = Literal["edited", "deleted", "reordered", "truncated", "head-mismatch"]


@dataclass(frozen=True, slots=True)
class ChainProblem:
    kind: ProblemKind
    seq: int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "seq": self.seq, "message": self.message}


@dataclass(frozen=True, slots=True)
class VerifyReport:
    records: int
    head_seq: int
    head_hash: str
    problems: tuple[ChainProblem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "headSeq": self.head_seq,
            "headHash": self.head_hash,
            "problems": [p.to_dict() for p in self.problems],
        }


class AuditLog:
    """The hash-chained audit log in the state database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def append(
        self,
        action: str,
        subject: str,
        payload: Mapping[str, Any],
        *,
        actor: str | None = None,
        now: datetime | None = None,
    ) -> AuditRecord:
        """Add a record at the end of the chain, atomically with the head."""
        recorded_at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
        who = actor or current_actor()
        body = _canonical(payload)
        with self.db.transaction() as conn:
            head = conn.execute(
                select(audit_head.c.seq, audit_head.c.hash)
                .where(audit_head.c.id == 1)
                .with_for_update()
            ).one()
            seq = head.seq + 1
            digest = record_hash(seq, recorded_at, who, action, subject, body, head.hash)
            conn.execute(
                insert(audit_records).values(
                    seq=seq,
                    recorded_at=recorded_at,
                    actor=who,
                    action=action,
                    subject=subject,
                    payload=body,
                    prev_hash=head.hash,
                    hash=digest,
                )
            )
            conn.execute(
                update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=digest)
            )
        return AuditRecord(seq, recorded_at, who, action, subject, body, head.hash, digest)

    def records(
        self, *, limit: int | None = None, action: str | None = None, subject: str | None = None
    ) -> list[AuditRecord]:
        """Records, newest first."""
        query = select(audit_records).order_by(audit_records.c.seq.desc())
        if action:
            query = query.where(audit_records.c.action.like(action.replace("*", "%")))
        if subject:
            query = query.where(audit_records.c.subject == subject)
        if limit:
            query = query.limit(limit)
        with self.db.transaction() as conn:
            return [AuditRecord(**row._mapping) for row in conn.execute(query)]

    def verify(self, *, expect_head: str | None = None) -> VerifyReport:
        """Recompute the chain; report every edit, deletion, reordering and truncation."""
        problems: list[ChainProblem] = []
        with self.db.transaction() as conn:
            head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).one_or_none()
            rows = [
                AuditRecord(**row._mapping)
                for row in conn.execute(select(audit_records).order_by(audit_records.c.seq))
            ]
        prev = GENESIS
        expected = 1
        seen_hashes = {GENESIS}
        for record in rows:
            if record.seq != expected:
                gap = (
                    f"record {expected} is missing"
                    if record.seq == expected + 1
                    else f"records {expected}–{record.seq - 1} are missing"
                )
                problems.append(ChainProblem("deleted", expected, gap))
            computed = record_hash(
                record.seq,
                record.recorded_at,
                record.actor,
                record.action,
                record.subject,
                record.payload,
                record.prev_hash,
            )
            if computed != record.hash:
                problems.append(
                    ChainProblem(
                        "edited", record.seq, f"record {record.seq} does not match its hash"
                    )
                )
            if record.prev_hash != prev and record.seq == expected:
                problems.append(
                    ChainProblem(
                        "reordered",
                        record.seq,
                        f"record {record.seq} does not follow record {record.seq - 1} "
                        "(records moved, replaced or inserted)",
                    )
                )
            prev = record.hash
            seen_hashes.add(record.hash)
            expected = record.seq + 1
        last_seq = rows[-1].seq if rows else 0
        if head is None:
            problems.append(ChainProblem("truncated", None, "the head record is missing"))
            head_seq, head_hash = last_seq, prev
        else:
            head_seq, head_hash = head.seq, head.hash
            if head.seq > last_seq:
                problems.append(
                    ChainProblem(
                        "truncated",
                        last_seq + 1,
                        f"the log ends at record {last_seq} but {head.seq} were written",
                    )
                )
            elif head.seq != last_seq or head.hash != prev:
                problems.append(
                    ChainProblem(
                        "head-mismatch",
                        last_seq,
                        f"the head says record {head.seq} is last, the chain ends at {last_seq}",
                    )
                )
        if expect_head is not None and expect_head not in seen_hashes:
            problems.append(
                ChainProblem(
                    "truncated",
                    None,
                    f"the expected head {expect_head[:12]}… is not in the log (records removed "
                    "or the log replaced)",
                )
            )
        return VerifyReport(len(rows), head_seq, head_hash, tuple(problems))

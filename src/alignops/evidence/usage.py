"""Usage of evidence jobs: CPU and wall seconds per model and responsible-AI activity,
kept in the state database for the cost ledger."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from alignops.store.db import Database
from alignops.store.schema import usage_records

__all__ = ["UsageRecord", "list_usage", "save_usage"]


@dataclass(frozen=True)
class UsageRecord:
    recorded_at: datetime
    model: str
    model_digest: str
    activity: str
    check: str
    evidence_key: str
    revision: str
    cpu_seconds: float
    wall_seconds: float
    rows: int
    labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "recordedAt": self.recorded_at.isoformat(),
            "model": self.model,
            "modelDigest": self.model_digest,
            "activity": self.activity,
            "check": self.check,
            "evidenceKey": self.evidence_key,
            "revision": self.revision,
            "cpuSeconds": round(self.cpu_seconds, 6),
            "wallSeconds": round(self.wall_seconds, 6),
            "rows": self.rows,
            "labels": self.labels,
        }


def save_usage(db: Database, records: Iterable[UsageRecord]) -> int:
    rows = [
        {
            "recorded_at": r.recorded_at.isoformat(),
            "source": "evidence",
            "model": r.model,
            "activity": r.activity,
            "detail": r.check,
            "revision": r.revision,
            "cpu_seconds": r.cpu_seconds,
            "wall_seconds": r.wall_seconds,
            "quantity": r.rows,
            "attributes": json.dumps(
                {"modelDigest": r.model_digest, "evidenceKey": r.evidence_key, "labels": r.labels},
                sort_keys=True,
            ),
        }
        for r in records
    ]
    if rows:
        with db.transaction() as conn:
            conn.execute(insert(usage_records), rows)
    return len(rows)


def list_usage(db: Database, *, model: str | None = None) -> list[dict[str, Any]]:
    query = select(usage_records).order_by(usage_records.c.id)
    if model:
        query = query.where(usage_records.c.model == model)
    with db.transaction() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]

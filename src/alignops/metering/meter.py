"""``meter``: price the telemetry segments not metered yet into cost records.

1. list the published segments under ``<state>/telemetry/`` that the
   ``metered_segments`` table does not hold (for this machine);
2. read each one's billed usage per hour (unreadable files are reported and left for
   the next run, never half-counted);
3. price every (service, environment, revision) met — *before* writing anything, so a
   revision that cannot be read or whose ``alignops.yaml`` does not load stops the run
   with nothing written;
4. per batch of segments, in ONE transaction: add the cost records and mark the
   segments. Killed at any point, a segment is either fully counted or not at all, and
   the next run counts only what was not.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from alignops.errors import LedgerError
from alignops.metering.prices import PriceBook, Pricing, Snapshots
from alignops.metering.records import add_records, charge_key, cost_rows, merge
from alignops.metering.segments import Segment, Usage, find_segments, read_usage
from alignops.store.db import Database
from alignops.store.schema import metered_segments

__all__ = ["MeterResult", "meter"]

_BATCH_SEGMENTS = 200


@dataclass(frozen=True)
class MeterResult:
    """What one metering run counted."""

    segments: int
    """Segments metered by this run."""
    rows: int
    """Telemetry rows in them (requests, billed or not)."""
    requests: int
    """Billed requests among them."""
    records: int
    """Cost records inserted or added to."""
    unpriced: tuple[str, ...] = ()
    """Why some usage was priced at zero (one note per service and revision)."""
    unpriced_records: int = 0
    unreadable: tuple[str, ...] = ()
    """Segments that could not be read, with the reason; retried by the next run."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "segments": self.segments,
            "rows": self.rows,
            "requests": self.requests,
            "records": self.records,
            "unpriced": list(self.unpriced),
            "unpricedRecords": self.unpriced_records,
            "unreadable": list(self.unreadable),
        }


@dataclass(frozen=True)
class _Reading:
    segment: Segment
    rows: int
    usage: list[Usage]


def meter(
    snapshots: Snapshots,
    *,
    state_dir: Path,
    database: Database,
    machine: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> MeterResult:
    """Meter the telemetry under ``state_dir/telemetry`` that is not metered yet.

    ``snapshots`` gives the config repository's revisions (a ``ConfigRepository``);
    ``machine`` names this machine in ``metered_segments`` (default: the host name), so
    machines sharing a database keep their segments apart.
    """
    say = progress or (lambda _: None)
    machine = machine or socket.gethostname()
    done = _metered(database, machine)
    new = [s for s in find_segments(state_dir / "telemetry") if (s.name, s.bytes) not in done]
    if not new:
        say("metering: no new telemetry")
        return MeterResult(0, 0, 0, 0)
    say(f"metering: {len(new)} new telemetry segment{'s' if len(new) != 1 else ''}")
    readings: list[_Reading] = []
    unreadable: list[str] = []
    for segment in new:
        try:
            rows, usage = read_usage(segment)
        except LedgerError as exc:
            unreadable.append(str(exc))
            continue
        readings.append(_Reading(segment, rows, usage))

    book = PriceBook(snapshots)
    prices: dict[tuple[str, str, str], Pricing] = {}
    for reading in readings:
        for u in reading.usage:
            key = (u.deployment, u.environment, u.revision)
            if key not in prices:
                prices[key] = book.pricing(*key, seen_in=str(reading.segment.path))

    segments = rows = requests = 0
    written: set[tuple[Any, ...]] = set()
    unpriced: set[tuple[Any, ...]] = set()
    for batch in _batches(readings, _BATCH_SEGMENTS):
        with database.transaction() as connection:
            marked = {  # under the write lock: another run may have metered them since
                (r.segment, r.bytes)
                for r in connection.execute(
                    select(metered_segments.c.segment, metered_segments.c.bytes).where(
                        metered_segments.c.machine == machine,
                        metered_segments.c.segment.in_([r.segment.name for r in batch]),
                    )
                )
            }
            fresh = [r for r in batch if (r.segment.name, r.segment.bytes) not in marked]
            if not fresh:
                continue
            priced = merge(
                row
                for r in fresh
                for u in r.usage
                for row in cost_rows(u, prices[(u.deployment, u.environment, u.revision)])
            )
            add_records(connection, priced)
            now = datetime.now(UTC).isoformat(timespec="seconds")
            connection.execute(
                insert(metered_segments),
                [
                    {
                        "machine": machine,
                        "segment": r.segment.name,
                        "bytes": r.segment.bytes,
                        "rows": r.rows,
                        "metered_at": now,
                    }
                    for r in fresh
                ],
            )
        segments += len(fresh)
        rows += sum(r.rows for r in fresh)
        requests += sum(u.requests for r in fresh for u in r.usage)
        written.update(charge_key(row) for row in priced)
        unpriced.update(charge_key(row) for row in priced if row["x_PricingNote"] is not None)
        say(f"metering: {segments} of {len(readings)} segments counted")
    notes = sorted({p.note for p in prices.values() if p.note is not None})
    return MeterResult(
        segments, rows, requests, len(written), tuple(notes), len(unpriced), tuple(unreadable)
    )


def _metered(database: Database, machine: str) -> set[tuple[str, int]]:
    query = select(metered_segments.c.segment, metered_segments.c.bytes).where(
        metered_segments.c.machine == machine
    )
    with database.transaction() as connection:
        return {(row.segment, row.bytes) for row in connection.execute(query)}


def _batches(items: Sequence[_Reading], size: int) -> Iterator[Sequence[_Reading]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

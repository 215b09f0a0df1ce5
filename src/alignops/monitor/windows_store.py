"""Telemetry windows in the state database: ``monitor_windows`` rows, the
``monitored_segments`` marks, and reading windows back with their cost.

A window's row holds its plain counts as columns and the rest as JSON (``counts``:
latency buckets, feature bin counts with their bins, selections, unparsable requests,
the reference and notes); adding counts to a stored window reads it, merges
(:meth:`Window.merge`) and writes it back in the caller's transaction.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, select, update

from alignops.evidence.profile import FeatureProfile
from alignops.monitor.latency import LatencyHistogram
from alignops.monitor.windows_data import Window, format_time, parse_time
from alignops.store.db import Database
from alignops.store.schema import cost_records, monitor_windows, monitored_segments

__all__ = ["Stale", "load_windows", "mark", "monitored", "save", "unmarked"]


class Stale(Exception):
    """Some segments were marked by another run since this one listed them."""

    def __init__(self, marked: set[tuple[str, int]]) -> None:
        super().__init__(f"{len(marked)} segments were counted by another run")
        self.marked = marked


def monitored(database: Database, machine: str) -> set[tuple[str, int]]:
    query = select(monitored_segments.c.segment, monitored_segments.c.bytes).where(
        monitored_segments.c.machine == machine
    )
    with database.transaction() as connection:
        return {(row.segment, row.bytes) for row in connection.execute(query)}


def unmarked(connection: Connection, machine: str, segments: Sequence[tuple[str, int]]) -> None:
    """Raise :class:`Stale` if any of these (name, bytes) segments is marked already."""
    marked = {
        (row.segment, row.bytes)
        for row in connection.execute(
            select(monitored_segments.c.segment, monitored_segments.c.bytes).where(
                monitored_segments.c.machine == machine,
                monitored_segments.c.segment.in_([name for name, _ in segments]),
            )
        )
    }
    if marked & set(segments):
        raise Stale(marked)


def mark(connection: Connection, machine: str, segments: Sequence[tuple[str, int, int]]) -> None:
    """Mark (name, bytes, rows) segments as counted."""
    now = format_time(datetime.now(UTC))
    connection.execute(
        insert(monitored_segments),
        [
            {"machine": machine, "segment": name, "bytes": size, "rows": rows, "monitored_at": now}
            for name, size, rows in segments
        ],
    )


def save(connection: Connection, windows: Sequence[Window]) -> None:
    """Add each window's counts to its stored row, or insert it: the stored rows of a
    series are read with one query, new rows inserted with one statement."""
    now = format_time(datetime.now(UTC))
    series: dict[tuple[str, str, str, int], list[Window]] = {}
    for window in windows:
        series.setdefault(window.key[:4], []).append(window)
    new: list[dict[str, Any]] = []
    c = monitor_windows.c
    for (environment, deployment, revision, seconds), group in series.items():
        starts = [format_time(w.start) for w in group]
        found = {
            row.window_start: row
            for row in connection.execute(
                select(monitor_windows).where(
                    c.environment == environment,
                    c.deployment == deployment,
                    c.revision == revision,
                    c.window_seconds == seconds,
                    c.window_start.in_(starts),
                )
            )
        }
        for window, start in zip(group, starts, strict=True):
            old = found.get(start)
            if old is None:
                new.append({**_columns(window), "updated_at": now})
                continue
            merged = _from_row(old._mapping).merge(window)
            connection.execute(
                update(monitor_windows)
                .where(c.id == old.id)
                .values(**_columns(merged), updated_at=now)
            )
    if new:
        connection.execute(insert(monitor_windows), new)


def _columns(window: Window) -> dict[str, Any]:
    return {
        "environment": window.environment,
        "deployment": window.deployment,
        "revision": window.revision,
        "window_start": format_time(window.start),
        "window_seconds": window.seconds,
        "requests": window.requests,
        "errors": window.errors,
        "rows": window.rows,
        "cold_starts": window.cold_starts,
        "cold_start_ms": window.cold_start_ms,
        "counts": json.dumps(window.counts_json(), separators=(",", ":"), sort_keys=True),
    }


def _from_row(row: Any, cost: Decimal = Decimal(0)) -> Window:
    counts = json.loads(row["counts"])
    return Window(
        row["environment"],
        row["deployment"],
        row["revision"],
        parse_time(row["window_start"]),
        row["window_seconds"],
        requests=row["requests"],
        errors=row["errors"],
        rows=row["rows"],
        cold_starts=row["cold_starts"],
        cold_start_ms=row["cold_start_ms"],
        latency=LatencyHistogram.from_dict(counts["latency"]),
        features={
            name: FeatureProfile.from_dict(name, data)
            for name, data in counts.get("features", {}).items()
        },
        selections={
            attr: {group: (int(r), int(p)) for group, (r, p) in groups.items()}
            for attr, groups in counts.get("selections", {}).items()
        },
        cost=cost,
        unparsable=int(counts.get("unparsable", 0)),
        reference=counts.get("reference"),
        notes=tuple(counts.get("notes", ())),
    )


# -- reading back ---------------------------------------------------------------------------


def load_windows(
    database: Database,
    *,
    environment: str | None = None,
    deployment: str | None = None,
    since: datetime | None = None,
    window_seconds: int | None = None,
) -> list[Window]:
    """Stored windows (starting at or after ``since``), oldest first per deployment, each
    with its cost: the deployment's cost records of that environment and revision,
    prorated by the share of each record's charge period inside the window."""
    c = monitor_windows.c
    query = select(monitor_windows)
    if environment is not None:
        query = query.where(c.environment == environment)
    if deployment is not None:
        query = query.where(c.deployment == deployment)
    if since is not None:
        query = query.where(c.window_start >= format_time(since))
    if window_seconds is not None:
        query = query.where(c.window_seconds == window_seconds)
    query = query.order_by(
        c.environment, c.deployment, c.window_start, c.revision, c.window_seconds
    )
    with database.transaction() as connection:
        rows = [dict(r._mapping) for r in connection.execute(query)]
        if not rows:
            return []
        costs = _costs(connection, rows, environment, deployment)
    return [_from_row(row, costs.get(row["id"], Decimal(0))) for row in rows]


def _costs(
    connection: Connection,
    rows: list[dict[str, Any]],
    environment: str | None,
    deployment: str | None,
) -> dict[int, Decimal]:
    """Cost per window row id, from the cost records overlapping the windows."""
    spans: dict[tuple[str, str, str], dict[tuple[int, int], int]] = {}
    first = min(parse_time(r["window_start"]) for r in rows)
    last = max(parse_time(r["window_start"]).timestamp() + r["window_seconds"] for r in rows)
    for r in rows:
        begin = int(parse_time(r["window_start"]).timestamp())
        spans.setdefault((r["environment"], r["deployment"], r["revision"]), {})[
            (r["window_seconds"], begin)
        ] = r["id"]
    c = cost_records.c
    query = select(
        c.x_Environment, c.ResourceName, c.x_Revision, c.ChargePeriodStart, c.ChargePeriodEnd,
        c.EffectiveCost,
    ).where(
        c.ChargePeriodEnd > format_time(first),
        c.ChargePeriodStart < format_time(datetime.fromtimestamp(last, UTC)),
    )  # fmt: skip
    if environment is not None:
        query = query.where(c.x_Environment == environment)
    if deployment is not None:
        query = query.where(c.ResourceName == deployment)
    out: dict[int, Decimal] = {}
    for record in connection.execute(query):
        windows = spans.get((record.x_Environment, record.ResourceName, record.x_Revision))
        if not windows:
            continue
        begin = int(parse_time(record.ChargePeriodStart).timestamp())
        end = int(parse_time(record.ChargePeriodEnd).timestamp())
        if end <= begin:
            continue
        cost = Decimal(record.EffectiveCost)
        for seconds in {s for s, _ in windows}:
            for k in range(begin // seconds, math.ceil(end / seconds)):
                row_id = windows.get((seconds, k * seconds))
                if row_id is None:
                    continue
                overlap = min(end, (k + 1) * seconds) - max(begin, k * seconds)
                share = cost if overlap == end - begin else cost * overlap / (end - begin)
                out[row_id] = out.get(row_id, Decimal(0)) + share
    return out

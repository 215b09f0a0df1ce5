"""Telemetry segments → usage: billed requests, billed time and memory × time, per hour.

The runtime publishes a segment under its final name only once it is complete (written
to a hidden temporary file, fsynced, hard-linked: ``alignops.runtime.telemetry``), so
the ``*.parquet`` files of ``<telemetry>/<deployment>/`` are exactly the finished ones.
A segment is identified by its path below the telemetry folder and its size: the
runtime never rewrites one, and a name reused after old files were deleted (a recycled
pid) comes with other content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from alignops.errors import LedgerError
from alignops.runtime.telemetry import SCHEMA_FIELDS

__all__ = ["Segment", "Usage", "find_segments", "read_usage"]

GROUP = ("deployment", "environment", "revision", "model", "model_version")
_NEEDED = (*GROUP, "timestamp", "billed_ms", "memory_limit_mb")
assert set(_NEEDED) <= set(SCHEMA_FIELDS), "metering reads columns the runtime writes"


@dataclass(frozen=True)
class Segment:
    """One published telemetry file."""

    path: Path
    name: str
    """Path below the telemetry folder, ``<deployment>/<pid>-<seq>.parquet``."""
    bytes: int


@dataclass(frozen=True)
class Usage:
    """Billed requests of one deployment, revision and model version in one hour."""

    deployment: str
    environment: str
    revision: str
    model: str | None
    model_version: str | None
    hour: datetime
    requests: int
    billed_ms: int
    mb_ms: int
    """Σ memory limit (MB) × billed duration (ms): GB-seconds = mb_ms / 1024 / 1000."""


def find_segments(telemetry: Path) -> list[Segment]:
    """The published segments under ``telemetry``, in name order (none if it is absent)."""
    if not telemetry.is_dir():
        return []
    found = []
    for path in sorted(telemetry.glob("*/*.parquet")):
        if path.name.startswith(".") or not path.is_file():
            continue
        try:
            size = path.stat().st_size
        except OSError:  # deleted since the listing
            continue
        found.append(Segment(path, path.relative_to(telemetry).as_posix(), size))
    return found


def read_usage(segment: Segment) -> tuple[int, list[Usage]]:
    """The segment's row count and its billed usage per hour (requests the runtime did
    not bill — refused before a model saw them — count as nothing).

    Raises :class:`LedgerError` naming the file if it is not a readable telemetry
    segment."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:  # ParquetFile, not read_table: that imports pyarrow.dataset and pandas (~0.5 s)
        table = pq.ParquetFile(segment.path).read(columns=list(_NEEDED))
    except (OSError, pa.ArrowException) as exc:
        raise LedgerError(f"{segment.path}: not a readable telemetry segment: {exc}") from None
    missing = [name for name in _NEEDED if name not in table.column_names]
    if missing:
        raise LedgerError(
            f"{segment.path}: not a telemetry segment: no column {', '.join(missing)}"
        )
    rows = table.num_rows
    table = table.filter(pc.greater(table["billed_ms"], 0))
    if table.num_rows == 0:
        return rows, []
    billed = pc.cast(table["billed_ms"], pa.int64())
    grouped = (
        pa.table(
            {
                **{name: table[name] for name in GROUP},
                "hour": pc.floor_temporal(table["timestamp"], unit="hour"),
                "billed_ms": billed,
                "mb_ms": pc.multiply(billed, pc.cast(table["memory_limit_mb"], pa.int64())),
            }
        )
        .group_by([*GROUP, "hour"], use_threads=False)
        .aggregate([("billed_ms", "count"), ("billed_ms", "sum"), ("mb_ms", "sum")])
    )
    return rows, [_usage(row) for row in grouped.to_pylist()]


def _usage(row: dict[str, Any]) -> Usage:
    return Usage(
        deployment=row["deployment"],
        environment=row["environment"],
        revision=row["revision"],
        model=row["model"],
        model_version=row["model_version"],
        hour=row["hour"],
        requests=row["billed_ms_count"],
        billed_ms=row["billed_ms_sum"],
        mb_ms=row["mb_ms_sum"],
    )

"""Telemetry windows: :func:`update_windows` adds new telemetry to them, :func:`load_windows`
reads them back with their cost.

``update_windows``:

1. lists the published segments under ``<state>/telemetry/`` (``metering.segments``)
   that ``monitored_segments`` does not hold for this machine — a segment is its path
   below the telemetry folder and its size, as for metering;
2. reads each one's footer: whose requests it holds (environment, deployment, revision:
   one of each for a service process). A file that is not a readable telemetry segment
   is reported and left for the next run;
3. per batch of segments of the same deployment and revision, counts their requests
   into windows (:mod:`alignops.monitor.windows_reading`) against the reference of that
   deployment and revision (:class:`~alignops.monitor.reference.ReferenceProfiles`);
4. in ONE transaction per batch, adds the counts into the ``monitor_windows`` rows and
   marks the segments in ``monitored_segments`` — killed at any point, a segment is
   counted fully or not at all, and the next run counts only what was not. A segment
   another run marked in the meantime is not counted twice (checked under the lock).

Windows are keyed by ``window_seconds`` too; a new ``monitoring.windowSeconds`` applies
to the telemetry monitored from then on.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignops.errors import UsageError
from alignops.metering.segments import Segment, find_segments
from alignops.monitor import windows_store as store
from alignops.monitor.reference import Reference, ReferenceProfiles
from alignops.monitor.windows_data import Window, WindowKey, format_time
from alignops.monitor.windows_reading import SegmentKey, count_windows
from alignops.monitor.windows_store import load_windows
from alignops.runtime.telemetry import SCHEMA_FIELDS
from alignops.store.db import Database

__all__ = ["UpdateReport", "Window", "WindowKey", "load_windows", "update_windows"]

_NEEDED = (
    "timestamp", "deployment", "environment", "revision", "status", "latency_ms",
    "cold_start", "init_ms", "rows", "inputs", "outputs",
)  # fmt: skip
assert set(_NEEDED) <= set(SCHEMA_FIELDS), "monitoring reads columns the runtime writes"
_KEY_COLUMNS = ("environment", "deployment", "revision")
_BATCH_SEGMENTS = 500
_BATCH_ROWS = 2_000_000


@dataclass(frozen=True)
class UpdateReport:
    """What one :func:`update_windows` run added."""

    segments: int
    """Segments counted by this run."""
    requests: int
    windows: tuple[WindowKey, ...]
    """Windows that were created or added to."""
    unparsable: int = 0
    """Answered requests whose body could not be read (counted, not profiled)."""
    unreadable: tuple[str, ...] = ()
    """Files that could not be read, with the reason; retried by the next run."""
    notes: tuple[str, ...] = ()
    """Deployments whose drift could not be counted, and why."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "segments": self.segments,
            "requests": self.requests,
            "windows": [
                {
                    "environment": env,
                    "deployment": dep,
                    "revision": rev,
                    "seconds": seconds,
                    "start": format_time(start),
                }
                for env, dep, rev, seconds, start in self.windows
            ],
            "unparsable": self.unparsable,
            "unreadable": list(self.unreadable),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class _Reading:
    segment: Segment
    rows: int
    keys: tuple[SegmentKey, ...]


class _Unreadable(Exception):
    pass


def update_windows(
    *,
    state_dir: Path,
    database: Database,
    references: ReferenceProfiles,
    window_seconds: int,
    machine: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> UpdateReport:
    """Add the telemetry under ``state_dir/telemetry`` not monitored yet into windows of
    ``window_seconds``; ``machine`` (default: the host name) keeps machines sharing a
    database apart. ``progress(done, total)`` is called after each batch of segments."""
    if (
        isinstance(window_seconds, bool)
        or not isinstance(window_seconds, int)
        or window_seconds < 1
    ):
        raise UsageError(
            f"window_seconds must be a whole number of seconds ≥ 1; got {window_seconds!r}"
        )
    machine = machine or socket.gethostname()
    done = store.monitored(database, machine)
    new = [s for s in find_segments(state_dir / "telemetry") if (s.name, s.bytes) not in done]
    readings: list[_Reading] = []
    unreadable: list[str] = []
    for segment in new:
        try:
            readings.append(_header(segment))
        except _Unreadable as exc:
            unreadable.append(str(exc))
    import duckdb

    counted: list[_Reading] = []
    touched: dict[WindowKey, None] = {}
    requests = unparsable = 0
    notes: dict[str, None] = {}
    connection = duckdb.connect()
    try:
        for batch in _batches(readings):
            for reading, windows in _count_and_save(
                connection, batch, references, window_seconds, database, machine, unreadable
            ):
                counted.append(reading)
                for window in windows:
                    touched[window.key] = None
                    requests += window.requests
                    unparsable += window.unparsable
            for key in batch[0].keys:
                reference = references.get(key.deployment, key.revision)
                if reference.profile is None:
                    notes[f"{key.deployment} at {key.revision[:12]}: no reference profile: "
                          f"{reference.problem}"] = None  # fmt: skip
            if progress is not None:
                progress(len(counted), len(readings))
    finally:
        connection.close()
    return UpdateReport(
        segments=len(counted),
        requests=requests,
        windows=tuple(sorted(touched)),
        unparsable=unparsable,
        unreadable=tuple(unreadable),
        notes=tuple(notes),
    )


def _count_and_save(
    connection: Any,
    batch: list[_Reading],
    references: ReferenceProfiles,
    window_seconds: int,
    database: Database,
    machine: str,
    unreadable: list[str],
) -> Iterator[tuple[_Reading, list[Window]]]:
    """Count a batch and save it; a batch DuckDB cannot read is split to find the bad
    file. Yields each segment saved with the windows of its batch (once per batch)."""
    import duckdb

    pending = batch
    while pending:
        try:
            windows = _count(connection, pending, references, window_seconds)
        except duckdb.Error as exc:
            if len(pending) == 1:
                unreadable.append(f"{pending[0].segment.path}: cannot be read: {exc}")
                return
            for reading in pending:
                yield from _count_and_save(
                    connection, [reading], references, window_seconds, database, machine,
                    unreadable,
                )  # fmt: skip
            return
        try:
            with database.transaction() as transaction:
                store.unmarked(
                    transaction, machine, [(r.segment.name, r.segment.bytes) for r in pending]
                )
                store.save(transaction, windows)
                store.mark(
                    transaction,
                    machine,
                    [(r.segment.name, r.segment.bytes, r.rows) for r in pending],
                )
        except store.Stale as stale:  # another run counted some meanwhile: count the rest
            pending = [r for r in pending if (r.segment.name, r.segment.bytes) not in stale.marked]
            continue
        for i, reading in enumerate(pending):
            yield reading, windows if i == 0 else []
        return


def _count(
    connection: Any, batch: list[_Reading], references: ReferenceProfiles, window_seconds: int
) -> list[Window]:
    paths = [r.segment.path for r in batch]
    merged: dict[WindowKey, Window] = {}
    for key in batch[0].keys:
        reference: Reference = references.get(key.deployment, key.revision)
        for window in count_windows(connection, paths, key, reference, window_seconds):
            old = merged.get(window.key)
            merged[window.key] = window if old is None else old.merge(window)
    return list(merged.values())


# -- segments -------------------------------------------------------------------------------


def _header(segment: Segment) -> _Reading:
    """Rows and keys of a segment, from its footer (its columns when statistics are
    missing or the keys vary)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(segment.path)
        names = file.schema_arrow.names
        metadata = file.metadata
    except (OSError, pa.ArrowException) as exc:
        raise _Unreadable(f"{segment.path}: not a readable telemetry segment: {exc}") from None
    missing = [name for name in _NEEDED if name not in names]
    if missing:
        raise _Unreadable(
            f"{segment.path}: not a telemetry segment: no column {', '.join(missing)}"
        )
    if metadata.num_rows == 0:
        return _Reading(segment, 0, ())
    constant = [_constant(metadata, name) for name in _KEY_COLUMNS]
    if all(value is not None for value in constant):
        environment, deployment, revision = constant
        assert environment is not None and deployment is not None and revision is not None
        return _Reading(
            segment, metadata.num_rows, (SegmentKey(environment, deployment, revision),)
        )
    try:
        table = file.read(columns=list(_KEY_COLUMNS))
    except (OSError, pa.ArrowException) as exc:
        raise _Unreadable(f"{segment.path}: not a readable telemetry segment: {exc}") from None
    keys = set()
    for row in table.group_by(list(_KEY_COLUMNS)).aggregate([]).to_pylist():
        values = [row[name] for name in _KEY_COLUMNS]
        if not all(isinstance(v, str) and v for v in values):
            raise _Unreadable(
                f"{segment.path}: not a telemetry segment: rows without environment, "
                "deployment or revision"
            )
        keys.add(SegmentKey(*values))
    return _Reading(segment, metadata.num_rows, tuple(sorted(keys)))


def _constant(metadata: Any, name: str) -> str | None:
    """The one value of a string column per its statistics, or None if not known."""
    found: set[Any] = set()
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        column = next(
            (row_group.column(i) for i in range(row_group.num_columns)
             if row_group.column(i).path_in_schema == name),
            None,
        )  # fmt: skip
        statistics = None if column is None else column.statistics
        if statistics is None or not statistics.has_min_max or statistics.null_count:
            return None
        found.update((statistics.min, statistics.max))
    if len(found) != 1:
        return None
    (value,) = found
    return value if isinstance(value, str) and value else None


def _batches(readings: Sequence[_Reading]) -> Iterator[list[_Reading]]:
    """Segments of the same keys, in name order, up to a size per batch."""
    by_keys: dict[tuple[SegmentKey, ...], list[_Reading]] = {}
    for reading in readings:
        by_keys.setdefault(reading.keys, []).append(reading)
    for group in by_keys.values():
        batch: list[_Reading] = []
        rows = 0
        for reading in group:
            if batch and (len(batch) >= _BATCH_SEGMENTS or rows + reading.rows > _BATCH_ROWS):
                yield batch
                batch, rows = [], 0
            batch.append(reading)
            rows += reading.rows
        if batch:
            yield batch

"""Request telemetry and metering, captured off the request path.

A handler calls :meth:`Telemetry.record` with one tuple: an append to a
``collections.deque`` (atomic under the GIL; no lock, no I/O, no allocation beyond the
tuple). A daemon thread wakes every ``flushSeconds`` (or as soon as ``maxBatchRows``
records wait), turns what is buffered into one Arrow table and writes it as a Parquet
segment ``<directory>/<deployment>/<pid>-<seq>.parquet``: written to a hidden temporary
file, fsynced, then published under its final name with a hard link (atomic, never
overwrites a segment of an earlier process that had the same pid) — readers globbing
``*.parquet`` never see a partial file.

Telemetry never fails a request: if a write fails the records stay buffered and are
retried at the next flush; the error is counted, kept for ``/health`` and printed on
stderr once per distinct message. Past ``bufferLimit`` records, new ones are dropped and
counted. :meth:`Telemetry.close` writes everything left (decision 0014).
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_FIELDS", "Record", "Telemetry", "TelemetryStatus", "billed"]

Record = tuple[
    str,  # request_id
    int,  # timestamp, µs since the epoch (UTC)
    str | None,  # model name
    str | None,  # model version
    int,  # HTTP status
    float,  # latency_ms
    bool,  # cold_start
    int,  # rows scored
    bytes | None,  # inputs: the request body as received
    bytes | None,  # outputs: the response body as sent
    str | None,  # error code
    int,  # billed_ms
]
"""What a handler hands over; the writer adds the columns that are the same for every
request of the process."""

SCHEMA_FIELDS = (
    "request_id",
    "timestamp",
    "deployment",
    "environment",
    "revision",
    "model",
    "model_version",
    "status",
    "latency_ms",
    "cold_start",
    "init_ms",
    "rows",
    "inputs",
    "outputs",
    "error",
    "pid",
    "memory_limit_mb",
    "billed_ms",
    "gb_seconds",
)
"""The columns of every segment, in order (documented in docs/runtime.md)."""


def billed(latency_ms: float) -> int:
    """Billed duration: the latency rounded up to a whole millisecond, at least 1."""
    return max(1, math.ceil(latency_ms))


@dataclass(frozen=True)
class TelemetryStatus:
    buffered: int
    written: int
    segments: int
    dropped: int
    failed_flushes: int
    last_error: str | None


class Telemetry:
    """The buffer, the writer thread and the segments of one service process."""

    def __init__(
        self,
        directory: Path,
        *,
        deployment: str,
        environment: str,
        revision: str,
        memory_limit_mb: int,
        flush_seconds: float,
        max_batch_rows: int,
        buffer_limit: int,
    ) -> None:
        self.directory = directory / deployment
        self._memory_limit_mb = memory_limit_mb
        self._pid = os.getpid()
        self._constants: dict[str, str | int] = {
            "deployment": deployment,
            "environment": environment,
            "revision": revision,
            "pid": os.getpid(),
            "memory_limit_mb": memory_limit_mb,
        }
        self._flush_seconds = flush_seconds
        self._max_batch_rows = max_batch_rows
        self._buffer_limit = buffer_limit
        self._buffer: collections.deque[Record] = collections.deque()
        self._pending: list[Record] = []  # taken from the buffer, not yet written
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="telemetry-writer", daemon=True)
        self._seq = 0
        self.init_ms: float | None = None
        self.written = 0
        self.segments = 0
        self._dropped_full = 0  # counted by the request path only
        self._dropped_failing = 0  # counted by the writer only
        self.failed_flushes = 0
        self.last_error: str | None = None

    # -- request path -------------------------------------------------------------------

    def record(self, record: Record) -> None:
        """Buffer one request's record; never blocks, never raises."""
        buffer = self._buffer
        if len(buffer) >= self._buffer_limit:
            self._dropped_full += 1
            return
        buffer.append(record)
        if len(buffer) >= self._max_batch_rows:
            self._wake.set()

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float | None = None) -> bool:
        """Stop the writer and write everything buffered; True if nothing is left."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        self.flush()
        left = len(self._buffer) + len(self._pending)
        if left:
            _say(f"telemetry: {left} records could not be written and are lost")
        return left == 0

    def status(self) -> TelemetryStatus:
        return TelemetryStatus(
            buffered=len(self._buffer) + len(self._pending),
            written=self.written,
            segments=self.segments,
            dropped=self._dropped_full + self._dropped_failing,
            failed_flushes=self.failed_flushes,
            last_error=self.last_error,
        )

    # -- writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Write what is buffered as one segment (or keep it for the next try)."""
        with self._write_lock:
            buffer = self._buffer
            taken = [buffer.popleft() for _ in range(len(buffer))]
            self._pending.extend(taken)
            if not self._pending:
                return
            overflow = len(self._pending) - self._buffer_limit
            if overflow > 0:  # writes keep failing: keep the newest, count the rest
                del self._pending[:overflow]
                self._dropped_failing += overflow
            try:
                self._write_segment(self._pending)
            except Exception as exc:  # noqa: BLE001 - any failure: keep records, report
                self.failed_flushes += 1
                error = f"{type(exc).__name__}: {exc}"
                if error != self.last_error:  # once per distinct failure, not per flush
                    _say(
                        f"telemetry: cannot write to {self.directory}: {error}; "
                        f"{len(self._pending)} records kept for the next try"
                    )
                self.last_error = error
                return
            if self.last_error is not None:
                _say(f"telemetry: writing to {self.directory} again")
            self.written += len(self._pending)
            self.segments += 1
            self.last_error = None
            self._pending = []

    def _write_segment(self, records: list[Record]) -> None:
        import pyarrow.parquet as pq

        table = self._table(records)
        self.directory.mkdir(parents=True, exist_ok=True)
        pid = self._pid
        tmp = self.directory / f".{pid}-{self._seq:06d}.parquet.tmp"
        try:
            with open(tmp, "wb") as handle:
                pq.write_table(table, handle)
                handle.flush()
                os.fsync(handle.fileno())
            while True:
                final = self.directory / f"{pid}-{self._seq:06d}.parquet"
                self._seq += 1
                try:
                    os.link(tmp, final)
                    break
                except FileExistsError:  # a segment of an earlier process with our pid
                    continue
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _table(self, records: list[Record]) -> Any:
        import pyarrow as pa

        n = len(records)
        columns = list(zip(*records, strict=True))
        (request_id, timestamp, model, version, status, latency, cold, rows, inputs, outputs,
         error, billed_ms) = columns  # fmt: skip
        gb = self._memory_limit_mb / 1024
        init = [self.init_ms if c else None for c in cold]

        def constant(name: str, type_: Any) -> Any:
            return pa.array([self._constants[name]] * n, type_)

        arrays = {
            "request_id": pa.array(request_id, pa.string()),
            "timestamp": pa.array(timestamp, pa.timestamp("us", tz="UTC")),
            "deployment": constant("deployment", pa.string()),
            "environment": constant("environment", pa.string()),
            "revision": constant("revision", pa.string()),
            "model": pa.array(model, pa.string()),
            "model_version": pa.array(version, pa.string()),
            "status": pa.array(status, pa.int16()),
            "latency_ms": pa.array(latency, pa.float64()),
            "cold_start": pa.array(cold, pa.bool_()),
            "init_ms": pa.array(init, pa.float64()),
            "rows": pa.array(rows, pa.int32()),
            "inputs": _text(inputs),
            "outputs": _text(outputs),
            "error": pa.array(error, pa.string()),
            "pid": constant("pid", pa.int32()),
            "memory_limit_mb": constant("memory_limit_mb", pa.int32()),
            "billed_ms": pa.array(billed_ms, pa.int32()),
            "gb_seconds": pa.array([b * gb / 1000 for b in billed_ms], pa.float64()),
        }
        return pa.table(arrays)


def _text(values: tuple[bytes | None, ...]) -> Any:
    """A string column from bodies; bytes that are not UTF-8 are kept with U+FFFD."""
    import pyarrow as pa

    try:
        return pa.array(values, pa.string())
    except pa.ArrowInvalid:
        return pa.array([None if v is None else v.decode("utf-8", "replace") for v in values])


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

"""The telemetry writer in process: retries after a failure, bounds its memory, loses
nothing on close."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from alignops.runtime.telemetry import Record, Telemetry


def _telemetry(directory: Path, **limits: int) -> Telemetry:
    return Telemetry(
        directory,
        deployment="scorer",
        environment="dev",
        revision="abc",
        memory_limit_mb=512,
        flush_seconds=60,
        max_batch_rows=limits.get("max_batch_rows", 1000),
        buffer_limit=limits.get("buffer_limit", 1000),
    )


def _record(i: int, body: bytes = b'{"rows": []}') -> Record:
    return (f"r{i}", 1_700_000_000_000_000 + i, "m", "1", 200, 1.5, i == 0, 1, body, b"{}", None, 2)


def test_a_failed_write_keeps_the_records_and_the_next_one_writes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "telemetry"
    blocker.write_text("not a directory")
    telemetry = _telemetry(blocker)
    for i in range(5):
        telemetry.record(_record(i))
    telemetry.flush()
    telemetry.flush()
    status = telemetry.status()
    assert (status.buffered, status.written, status.failed_flushes) == (5, 0, 2)
    assert status.last_error is not None
    assert capsys.readouterr().err.count("telemetry: cannot write to") == 1

    blocker.unlink()  # the disk is fixed
    telemetry.record(_record(5))
    assert telemetry.close()
    status = telemetry.status()
    assert (status.buffered, status.written, status.segments, status.last_error) == (0, 6, 1, None)
    assert "writing to" in capsys.readouterr().err
    table = pq.read_table(tmp_path / "telemetry" / "scorer")
    assert table.column("request_id").to_pylist() == [f"r{i}" for i in range(6)]
    assert table.column("gb_seconds").to_pylist() == [0.5 * 2 / 1000] * 6


def test_past_the_buffer_limit_records_are_dropped_and_counted(tmp_path: Path) -> None:
    telemetry = _telemetry(tmp_path, buffer_limit=3)
    for i in range(5):
        telemetry.record(_record(i))
    assert telemetry.status().dropped == 2
    assert telemetry.close()
    assert pq.read_table(tmp_path / "scorer").num_rows == 3


def test_bodies_that_are_not_utf8_are_kept_not_fatal(tmp_path: Path) -> None:
    telemetry = _telemetry(tmp_path)
    telemetry.record(_record(0, body=b"\xff\xfe not utf-8"))
    assert telemetry.close()
    (inputs,) = pq.read_table(tmp_path / "scorer").column("inputs").to_pylist()
    assert inputs == "\ufffd\ufffd not utf-8"

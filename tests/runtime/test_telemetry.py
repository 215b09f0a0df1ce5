"""Telemetry: every request lands in Parquet exactly once, off the request path, and a
telemetry failure never fails a request."""

from __future__ import annotations

import json
import math
import re
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from alignops.runtime.telemetry import SCHEMA_FIELDS
from tests.runtime.conftest import rows, skops_model, train


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_n_requests_then_a_stop_signal_leave_exactly_n_rows(
    start: Any, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    entry = skops_model(tmp_path / "v7.skops", train(seed=1))
    # A segment is written early at 30 records; the rest only by the final flush.
    telemetry = {"flushSeconds": 120, "maxBatchRows": 30}
    service = start([entry], memoryMb=1536, telemetry=telemetry)
    sent: list[tuple[str, bytes, int, bytes]] = []
    with httpx.Client(base_url=service.url) as client:
        for i in range(48):
            body = json.dumps({"rows": rows(1 + i % 3, seed=i)}).encode()
            response = client.post("/predict", content=body, headers={"X-Request-Id": f"r-{i}"})
            sent.append((f"r-{i}", body, response.status_code, response.content))
        bad = client.post(
            "/predict", content=b'{"rows": [{"f0": 1}]}', headers={"X-Request-Id": "bad"}
        )
        sent.append(("bad", b'{"rows": [{"f0": 1}]}', bad.status_code, bad.content))
        deadline = time.monotonic() + 10
        while service.health()["telemetry"]["segments"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.health()["telemetry"]["segments"] == 1  # the early one
    service.process.send_signal(stop_signal)
    assert service.process.wait(30) == 0

    files = sorted(service.telemetry_dir.iterdir())
    pid = service.process.pid
    assert [f.name for f in files] == [f"{pid}-000000.parquet", f"{pid}-000001.parquet"]
    table = pq.read_table(service.telemetry_dir)
    assert table.num_rows == len(sent) == 49
    assert table.column_names == list(SCHEMA_FIELDS)
    records = sorted(table.to_pylist(), key=lambda r: r["timestamp"])
    assert [r["request_id"] for r in records] == [s[0] for s in sent]
    for record, (_, body, status, out) in zip(records, sent, strict=True):
        assert record["deployment"] == "fraud-scorer"
        assert record["environment"] == "staging"
        assert record["revision"] == service.spec["revision"]
        assert (record["model"], record["model_version"]) == ("scorer", "v7")
        assert record["status"] == status
        assert record["inputs"] == body.decode()
        assert record["outputs"] == out.decode()
        assert record["pid"] == pid
        assert record["memory_limit_mb"] == 1536
        assert record["latency_ms"] > 0
        assert record["billed_ms"] == max(1, math.ceil(record["latency_ms"]))
        assert record["gb_seconds"] == pytest.approx(1536 / 1024 * record["billed_ms"] / 1000)
        assert record["rows"] == (len(json.loads(body)["rows"]) if status == 200 else 0)
    assert [r["cold_start"] for r in records] == [True] + [False] * 48
    assert records[0]["init_ms"] > 0
    assert all(r["init_ms"] is None for r in records[1:])
    assert records[-1]["status"] == 400
    assert records[-1]["error"] == "bad-request"


def test_an_unwritable_telemetry_directory_fails_no_request(start: Any, tmp_path: Path) -> None:
    entry = skops_model(tmp_path / "v1.skops", train(seed=1))
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the telemetry directory should be")
    service = start([entry], telemetry={"directory": str(blocker), "flushSeconds": 0.1})
    with httpx.Client(base_url=service.url) as client:
        statuses = [
            client.post("/predict", json={"rows": rows(1, seed=i)}).status_code for i in range(20)
        ]
        assert statuses == [200] * 20
        deadline = time.monotonic() + 10
        while service.health()["telemetry"]["failedFlushes"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        health = service.health()
    assert health["status"] == "ok"
    assert health["telemetry"]["failedFlushes"] >= 2
    assert health["telemetry"]["buffered"] == 20  # kept for the next try, not dropped
    assert health["telemetry"]["dropped"] == 0
    assert health["telemetry"]["written"] == 0
    assert re.match(r"(FileExistsError|NotADirectoryError): ", health["telemetry"]["error"])
    # Reported on stderr once per distinct failure, not once per flush.
    assert service.stderr().count("telemetry: cannot write to") == 1
    assert service.stop() == 0
    assert "telemetry: 20 records could not be written and are lost" in service.stderr()


def test_segments_are_published_whole_and_never_overwrite_an_earlier_process(
    start: Any, tmp_path: Path
) -> None:
    entry = skops_model(tmp_path / "v1.skops", train(seed=1))
    service = start([entry], telemetry={"flushSeconds": 120})
    pid = service.process.pid
    # A segment left by an earlier process that had the same pid.
    service.telemetry_dir.mkdir(parents=True, exist_ok=True)
    earlier = service.telemetry_dir / f"{pid}-000000.parquet"
    earlier.write_bytes(b"an earlier process's segment")
    assert httpx.post(f"{service.url}/predict", json={"rows": rows(1, seed=1)}).status_code == 200
    assert service.stop() == 0
    assert earlier.read_bytes() == b"an earlier process's segment"
    names = sorted(p.name for p in service.telemetry_dir.iterdir())
    assert names == [f"{pid}-000000.parquet", f"{pid}-000001.parquet"]  # no temporary left
    assert pq.read_table(service.telemetry_dir / names[1]).num_rows == 1

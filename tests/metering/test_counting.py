"""Each telemetry segment is counted exactly once: metering again adds nothing, a new
segment adds only its rows, and a run that fails or is killed halfway leaves nothing
half-counted."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alignops.errors import AuditError
from tests.metering.conftest import MINUTE, NOON, World


def _totals(world: World) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for r in world.records():
        out[r["SkuId"]] = out.get(r["SkuId"], Decimal(0)) + Decimal(r["ConsumedQuantity"])
        out["cost"] = out.get("cost", Decimal(0)) + Decimal(r["BilledCost"])
    return out


def test_metering_twice_counts_nothing_twice(world: World) -> None:
    revision = world.repo.git.head()
    world.segment(revision, [(NOON, 1000), (NOON + MINUTE, 1000)])
    world.segment(revision, [(NOON + 2 * MINUTE, 1000)])
    first = world.meter()
    assert (first.segments, first.requests, first.records) == (2, 3, 2)
    records = world.records()
    again = world.meter()
    assert (again.segments, again.rows, again.requests, again.records) == (0, 0, 0, 0)
    assert world.records() == records
    assert _totals(world) == {
        "gb-second": Decimal(6),
        "requests": Decimal(3),
        "cost": Decimal("0.225"),
    }


def test_a_new_segment_later_adds_only_its_rows(world: World) -> None:
    revision = world.repo.git.head()
    world.segment(revision, [(NOON, 1000)])
    world.meter()
    (row_id,) = {r["id"] for r in world.records() if r["SkuId"] == "requests"}
    world.segment(revision, [(NOON + 10 * MINUTE, 2000), (NOON + 20 * MINUTE, 2000)])
    result = world.meter()
    assert (result.segments, result.requests, result.records) == (1, 2, 2)
    # Same hour, same revision and model: added to the same two records.
    assert len(world.records()) == 2
    requests = world.record("requests")
    assert requests["id"] == row_id
    assert Decimal(requests["ConsumedQuantity"]) == 3
    gb = world.record("gb-second")
    assert (Decimal(gb["ConsumedQuantity"]), gb["x_BilledMs"]) == (Decimal(10), 5000)
    assert Decimal(gb["BilledCost"]) == Decimal("0.125")  # 10 GB-s × 0.0125, priced again


def test_a_failure_while_writing_leaves_nothing_half_counted(world: World) -> None:
    revision = world.repo.git.head()
    world.segment(revision, [(NOON, 1000)])
    # The database refuses to mark the segment after the cost records were written in
    # the same transaction (as a full disk would).
    trigger = (
        "CREATE TRIGGER refuse BEFORE INSERT ON metered_segments "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    with world.db.transaction() as conn:
        conn.exec_driver_sql(trigger)
    with pytest.raises(AuditError, match="disk is full"):
        world.meter()
    assert world.records() == [] and world.metered() == []
    with world.db.transaction() as conn:
        conn.exec_driver_sql("DROP TRIGGER refuse")
    assert world.meter().segments == 1
    assert _totals(world)["requests"] == 1


METER = """
import sys
from pathlib import Path
from alignops.metering import meter
from alignops.source import ConfigRepository
from alignops.store import Database
repo, url = sys.argv[1:]
say = lambda text: print(text, file=sys.stderr, flush=True)
meter(ConfigRepository(repo), state_dir=Path(repo) / ".alignops", database=Database(url),
      progress=say)
"""


def test_a_run_killed_halfway_counts_whole_batches_and_the_next_run_the_rest(
    world: World,
) -> None:
    revision = world.repo.git.head()
    segments = 450  # more than two batches of 200
    one = world.segment(revision, [(NOON, 100), (NOON + 1, 100)], memory_mb=1024)
    for i in range(1, segments):  # as if its process had flushed 450 times (no fsyncs)
        shutil.copy(one, one.with_name(f"{one.stem}-{i:04d}.parquet"))
    process = subprocess.Popen(
        [sys.executable, "-c", METER, str(world.repo.path), str(world.db.engine.url)],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    said = []
    for line in process.stderr:
        said.append(line)
        if "200 of 450 segments counted" in line:  # the first batch is committed
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=120)
    assert process.returncode == -signal.SIGKILL, "".join(said)

    marked = len(world.metered())
    assert marked in (200, 400, 450)
    # What is marked is exactly what is counted: 2 requests, 2 × 0.1 GB-s per segment.
    assert _totals(world)["requests"] == 2 * marked
    assert _totals(world)["gb-second"] == Decimal("0.2") * marked

    rest = world.meter()
    assert rest.segments == segments - marked
    assert len(world.metered()) == segments
    assert _totals(world) == {
        "gb-second": Decimal(90),
        "requests": Decimal(900),
        "cost": Decimal(90) * Decimal("0.0125") + 900 * Decimal("0.05"),
    }


def test_unfinished_and_unreadable_files_are_never_counted(world: World) -> None:
    revision = world.repo.git.head()
    good = world.segment(revision, [(NOON, 1000)])
    folder = good.parent
    # A segment still being written: hidden, temporary (telemetry.py's naming).
    shutil.copy(good, folder / ".4242-000000.parquet.tmp")
    shutil.copy(good, folder / ".4242-000001.parquet")
    (folder / "4242-000002.parquet").write_bytes(b"PAR1 cut short")
    pq.write_table(pa.table({"deployment": ["fraud-api"]}), folder / "4242-000003.parquet")
    result = world.meter()
    assert result.segments == 1
    cut, other = result.unreadable
    assert cut.startswith(f"{folder / '4242-000002.parquet'}: not a readable telemetry segment")
    assert other.startswith(f"{folder / '4242-000003.parquet'}: not a telemetry segment: no ")
    assert [m["segment"] for m in world.metered()] == [f"fraud-api/{good.name}"]
    assert _totals(world)["requests"] == 1
    # Still not counted, still reported: they are retried, not forgotten.
    assert world.meter().unreadable == (cut, other)


def test_a_segment_name_reused_after_the_old_file_was_deleted_is_counted(
    world: World,
) -> None:
    revision = world.repo.git.head()
    first = world.segment(revision, [(NOON, 1000)])
    world.meter()
    # Telemetry cleaned up; a new process with the same pid writes the same name again.
    newer = world.segment(revision, [(NOON + MINUTE, 1000), (NOON + 2 * MINUTE, 1000)])
    first.unlink()
    newer.rename(first)
    assert world.meter().segments == 1
    assert _totals(world)["requests"] == 3


def test_no_telemetry_folder_is_nothing_to_meter(world: World) -> None:
    assert not (world.state_dir / "telemetry").exists()
    result = world.meter()
    assert (result.segments, result.records) == (0, 0)
    assert world.records() == []

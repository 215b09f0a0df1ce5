"""Telemetry windows on real census requests: the counts equal a computation from
scratch, each segment is counted exactly once, and bad telemetry never crashes the run.

The world: a config repository declaring the census reference data, a model and its
deployment; telemetry segments written by the runtime's own writer, holding request
bodies built from real ACS rows (production 2018) as a client sends them and answers
shaped like the runtime's; the real state database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

import alignops.scaffold
from alignops.errors import AuditError, UsageError
from alignops.evidence.profile import Profile, psi_by_feature
from alignops.metering import meter
from alignops.monitor.reference import ReferenceProfiles
from alignops.monitor.windows import UpdateReport, Window, load_windows, update_windows
from alignops.runtime.telemetry import Record, Telemetry
from alignops.store import Database, default_database_url
from alignops.store.schema import cost_records, monitor_windows, monitored_segments
from tests.conftest import Repo

DATA = Path(alignops.scaffold.__file__).parent / "templates" / "acs-employment" / "data"
FEATURES = [
    "AGEP", "SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY",
    "DEAR", "DEYE", "DREM", "SEX", "RAC1P",
]  # fmt: skip
NOON = int(datetime(2026, 11, 23, 12, tzinfo=UTC).timestamp() * 1_000_000)
"""2026-11-23 12:00:00 UTC in µs."""
SECOND = 1_000_000
HOUR = 3600 * SECOND

DATASET = """\
apiVersion: alignops.dev/v1alpha1
kind: Dataset
metadata:
  name: acs-reference
spec:
  uri: data/reference.parquet
  sha256: "{sha256}"
  role: training
  label: employed
  protectedAttributes: [SEX, RAC1P]
"""

MODEL = """\
apiVersion: alignops.dev/v1alpha1
kind: Model
metadata:
  name: employment
spec:
  version: "1.0.0"
  artifact:
    uri: models/employment.skops
    sha256: "{sha256}"
  datasets:
    training: acs-reference
  features: [{features}]
"""

DEPLOYMENT = """\
apiVersion: alignops.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: employment-api
spec:
  model: employment
  environment: production
"""


def census_rows(year: int, count: int, *, skip: int = 0) -> list[dict[str, Any]]:
    """Real ACS person records as a client sends them: feature → JSON value."""
    frame = pd.read_parquet(DATA / f"production-{year}.parquet").iloc[skip : skip + count]
    records: list[dict[str, Any]] = frame[[*FEATURES, "employed"]].to_dict("records")
    return records


def answered(
    i: int,
    timestamp: int,
    rows: list[dict[str, Any]],
    predictions: list[Any],
    *,
    latency_ms: float = 2.0,
    key: str = "rows",
    status: int = 200,
    cold: bool = False,
    body: bytes | None = None,
) -> Record:
    """A request the model answered, with the body a client sent and the runtime's answer."""
    inputs = body if body is not None else json.dumps({key: rows}).encode()
    outputs = json.dumps(
        {
            "predictions": predictions,
            "model": "employment",
            "version": "1.0.0",
            "revision": "r",
            "requestId": f"q{i}",
            "probabilities": [[0.5, 0.5] for _ in predictions],
            "classes": [0, 1],
        },
        separators=(",", ":"),
    ).encode()
    billed = max(1, int(np.ceil(latency_ms)))
    return (f"q{i}", timestamp, "employment", "1.0.0", status, latency_ms, cold, len(rows),
            inputs, outputs, None, billed)  # fmt: skip


def refused(i: int, timestamp: int, status: int = 429, latency_ms: float = 0.3) -> Record:
    body = b'{"error":"too-many-requests","message":"busy","requestId":"x"}'
    return (f"x{i}", timestamp, None, None, status, latency_ms, False, 0, None, body,
            "too-many-requests", 0)  # fmt: skip


def one_row_requests(
    rows: list[dict[str, Any]], start: int, step: int, *, first: int = 0
) -> list[Record]:
    """One request per row, ``step`` µs apart; the prediction is the row's label."""
    return [
        answered(
            first + i,
            start + i * step,
            [_features(row)],
            [int(row["employed"])],
            latency_ms=0.4 + (i % 97) * 0.05,
        )
        for i, row in enumerate(rows)
    ]


def _features(row: dict[str, Any]) -> dict[str, Any]:
    return {f: row[f] for f in FEATURES}


@dataclass
class World:
    repo: Repo
    db: Database
    revision: str
    reference: pd.DataFrame

    @property
    def state_dir(self) -> Path:
        return self.repo.path / ".alignops"

    def profile(self) -> Profile:
        return Profile.build(self.reference[FEATURES], FEATURES)

    def segment(
        self,
        records: list[Record],
        *,
        revision: str | None = None,
        deployment: str = "employment-api",
        environment: str = "production",
    ) -> Path:
        """One segment written by the runtime's telemetry writer."""
        telemetry = Telemetry(
            self.state_dir / "telemetry",
            deployment=deployment,
            environment=environment,
            revision=revision or self.revision,
            memory_limit_mb=1024,
            flush_seconds=3600,
            max_batch_rows=1_000_000,
            buffer_limit=1_000_000,
        )
        telemetry.init_ms = 812.5
        before = set(telemetry.directory.glob("*.parquet"))
        for record in records:
            telemetry.record(record)
        assert telemetry.close()
        (path,) = set(telemetry.directory.glob("*.parquet")) - before
        return path

    def update(self, *, window_seconds: int = 3600, db: Database | None = None) -> UpdateReport:
        return update_windows(
            state_dir=self.state_dir,
            database=db or self.db,
            references=ReferenceProfiles(self.repo.git),
            window_seconds=window_seconds,
            machine="test-machine",
        )

    def windows(self, db: Database | None = None) -> list[Window]:
        return load_windows(db or self.db)

    def stored(self, db: Database | None = None) -> list[dict[str, Any]]:
        with (db or self.db).transaction() as conn:
            rows = conn.execute(select(monitor_windows).order_by(monitor_windows.c.window_start))
            return [
                {k: v for k, v in r._mapping.items() if k not in ("id", "updated_at")} for r in rows
            ]


def build_world(repo: Repo) -> World:
    """Commit the census reference data, a model and its deployment to ``repo``."""
    reference = pd.read_parquet(DATA / "reference-2015.parquet").iloc[:6000]
    target = repo.path / "data" / "reference.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    reference.to_parquet(target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    repo.write("datasets/acs.yaml", DATASET.format(sha256=digest))
    artifact = "monitoring reads the model's manifest, never its file"
    repo.write("models/employment.skops", artifact)
    model_digest = hashlib.sha256(artifact.encode()).hexdigest()
    repo.write(
        "models/employment.yaml",
        MODEL.format(sha256=model_digest, features=", ".join(FEATURES)),
    )
    repo.write("models/deployment.yaml", DEPLOYMENT)
    revision = repo.commit("census model and its deployment")
    return World(repo, Database(default_database_url(repo.path)), revision, reference)


@pytest.fixture
def world(repo: Repo) -> Iterator[World]:
    w = build_world(repo)
    try:
        yield w
    finally:
        w.db.close()


# -- from scratch ------------------------------------------------------------------------------


def expected_windows(
    records: list[Record], reference: Profile, seconds: int = 3600
) -> dict[datetime, dict[str, Any]]:
    """What a window should hold, computed with pandas and ``Profile.count`` directly."""
    out: dict[datetime, dict[str, Any]] = {}
    for record in records:
        ts, status, latency, cold, rows = record[1], record[4], record[5], record[6], record[7]
        start = datetime.fromtimestamp((ts // (seconds * SECOND)) * seconds, UTC)
        w = out.setdefault(
            start,
            {"requests": 0, "errors": 0, "rows": 0, "cold": 0, "latency": [], "live": [],
             "predictions": []},
        )  # fmt: skip
        w["requests"] += 1
        w["errors"] += status >= 400
        w["rows"] += rows
        w["cold"] += cold
        w["latency"].append(latency)
        if status < 400:
            body = json.loads(record[8] or b"")
            live = body.get("rows", body.get("instances"))
            w["live"].extend(live)
            w["predictions"].extend(json.loads(record[9] or b"")["predictions"])
    for w in out.values():
        frame = pd.DataFrame(w["live"]) if w["live"] else None
        w["profile"] = reference.count(frame) if frame is not None else None
        if frame is not None:
            frame = frame.assign(positive=np.asarray(w["predictions"]) == 1)
            w["selections"] = {
                attribute: {
                    str(group): (len(part), int(part["positive"].sum()))
                    for group, part in frame.groupby(frame[attribute].astype(str))
                }
                for attribute in ("SEX", "RAC1P")
            }
    return out


def assert_matches(window: Window, expected: dict[str, Any], reference: Profile) -> None:
    assert (window.requests, window.errors, window.rows, window.cold_starts) == (
        expected["requests"], expected["errors"], expected["rows"], expected["cold"],
    )  # fmt: skip
    assert window.latency.count == len(expected["latency"])
    live: Profile | None = expected["profile"]
    assert live is not None
    assert {n: f.counts for n, f in window.features.items()} == {
        n: f.counts for n, f in live.features.items()
    }
    assert window.psi(reference) == psi_by_feature(reference, live)
    assert window.selections == expected["selections"]


# -- the tests ---------------------------------------------------------------------------------


def test_windows_equal_a_computation_from_scratch(world: World) -> None:
    rows = census_rows(2018, 3000)
    # 3,000 requests 2.4 s apart from 11:00: two hours' windows, 1,500 requests each.
    records = one_row_requests(rows, NOON - HOUR, 2_400_000)
    records += [refused(i, NOON - HOUR + i * 7 * SECOND) for i in range(40)]
    records += [refused(100 + i, NOON + i * 11 * SECOND, status=504) for i in range(25)]
    world.segment(records[:1700])
    world.segment(records[1700:])
    report = world.update()
    assert (report.segments, report.requests, report.unparsable) == (2, 3065, 0)
    assert report.unreadable == () and report.notes == ()
    reference = world.profile()
    expected = expected_windows(records, reference)
    windows = world.windows()
    assert [w.start for w in windows] == sorted(expected)
    for window in windows:
        assert (window.environment, window.deployment, window.revision, window.seconds) == (
            "production", "employment-api", world.revision, 3600,
        )  # fmt: skip
        assert window.reference == f"dataset acs-reference at {world.revision[:12]}"
        assert_matches(window, expected[window.start], reference)
    assert windows[0].errors == 40 and windows[1].errors == 25
    # The window's own derived values.
    first = windows[0]
    assert first.error_rate == 40 / 1540
    assert first.request_rate == 1540 / 3600
    assert first.parity_difference("SEX") == pytest.approx(
        max(first.selection_rates("SEX").values()) - min(first.selection_rates("SEX").values())
    )


def test_merging_segments_in_two_runs_gives_the_same_windows_as_one_run(
    world: World, tmp_path: Path
) -> None:
    rows = census_rows(2017, 2400)
    records = one_row_requests(rows, NOON, 3 * SECOND)  # 12:00 to 14:00
    world.segment(records[:1000])
    world.update()
    world.segment(records[1000:])  # written after the first run
    second = world.update()
    assert second.segments == 1 and second.requests == 1400
    one_run = Database(f"sqlite:///{tmp_path / 'one-run.db'}")
    try:
        report = world.update(db=one_run)
        assert report.segments == 2 and report.requests == 2400
        assert world.stored() == world.stored(one_run)
        assert [w.to_dict() for w in world.windows()] == [
            w.to_dict() for w in world.windows(one_run)
        ]
    finally:
        one_run.close()
    reference = world.profile()
    expected = expected_windows(records, reference)
    for window in world.windows():
        assert_matches(window, expected[window.start], reference)


def test_updating_again_adds_nothing(world: World) -> None:
    world.segment(one_row_requests(census_rows(2016, 500), NOON, SECOND))
    first = world.update()
    assert first.segments == 1 and first.requests == 500
    stored = world.stored()
    again = world.update()
    assert (again.segments, again.requests, again.windows) == (0, 0, ())
    assert world.stored() == stored


def test_windows_split_exactly_at_their_boundaries(world: World) -> None:
    rows = census_rows(2018, 6)
    at = [NOON - 1, NOON, NOON + 5 * 60 * SECOND - 1, NOON + 5 * 60 * SECOND,
          NOON + 10 * 60 * SECOND, NOON + 10 * 60 * SECOND + 1]  # fmt: skip
    records = [
        answered(i, t, [_features(row)], [int(row["employed"])])
        for i, (t, row) in enumerate(zip(at, rows, strict=True))
    ]
    world.segment(records)
    report = world.update(window_seconds=300)
    starts = [w.start for w in world.windows()]
    noon = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert starts == [noon - timedelta(minutes=5), noon, noon + timedelta(minutes=5),
                      noon + timedelta(minutes=10)]  # fmt: skip
    assert [w.requests for w in world.windows()] == [1, 2, 1, 2]
    assert len(report.windows) == 4 and all(key[3] == 300 for key in report.windows)


def test_bad_bodies_are_counted_as_unparsable_and_nothing_else_of_them(world: World) -> None:
    rows = census_rows(2018, 10)
    good = one_row_requests(rows[:6], NOON, SECOND)
    bad = [
        answered(10, NOON + 10 * SECOND, [_features(rows[6])], [1], body=b'{"rows": [{"AGEP": 3'),
        answered(11, NOON + 11 * SECOND, [_features(rows[7])], [1], body=b"\xff\xfe not json"),
        answered(12, NOON + 12 * SECOND, [_features(rows[8])], [1], body=b'{"rows": []}'),
        answered(13, NOON + 13 * SECOND, [_features(rows[9])], [1], body=b'{"rows": 5}'),
        answered(14, NOON + 14 * SECOND, [_features(rows[9])], [1],
                 body=json.dumps({"rows": [_features(rows[9])], "instances": []}).encode()),
        # Two rows but one prediction: the answer does not match the request.
        answered(15, NOON + 15 * SECOND, [_features(rows[0]), _features(rows[1])], [1]),
    ]  # fmt: skip
    world.segment(good + bad)
    report = world.update()
    assert (report.segments, report.requests, report.unparsable) == (1, 12, 6)
    (window,) = world.windows()
    assert (window.requests, window.errors, window.unparsable) == (12, 0, 6)
    reference = world.profile()
    live = reference.count(pd.DataFrame([_features(r) for r in rows[:6]]))
    assert {n: f.counts for n, f in window.features.items()} == {
        n: f.counts for n, f in live.features.items()
    }
    assert sum(rows for rows, _ in window.selections["SEX"].values()) == 6


def test_a_file_that_is_not_a_segment_is_reported_and_retried(world: World) -> None:
    world.segment(one_row_requests(census_rows(2018, 50), NOON, SECOND))
    folder = world.state_dir / "telemetry" / "employment-api"
    (folder / "99999-000000.parquet").write_bytes(b"PAR1 this is not parquet")
    report = world.update()
    assert report.segments == 1 and report.requests == 50
    (problem,) = report.unreadable
    assert "99999-000000.parquet: not a readable telemetry segment" in problem
    again = world.update()
    assert again.segments == 0 and len(again.unreadable) == 1  # still reported, never counted
    with world.db.transaction() as conn:
        marked = [r.segment for r in conn.execute(select(monitored_segments))]
    assert marked == [
        next(p for p in folder.glob("*.parquet") if "99999" not in p.name)
        .relative_to(world.state_dir / "telemetry")
        .as_posix()
    ]


def test_a_failure_while_writing_leaves_nothing_half_counted(world: World) -> None:
    world.segment(one_row_requests(census_rows(2018, 20), NOON, SECOND))
    trigger = (
        "CREATE TRIGGER refuse BEFORE INSERT ON monitored_segments "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    with world.db.transaction() as conn:
        conn.exec_driver_sql(trigger)
    with pytest.raises(AuditError, match="disk is full"):
        world.update()
    assert world.stored() == []
    with world.db.transaction() as conn:
        conn.exec_driver_sql("DROP TRIGGER refuse")
    assert world.update().requests == 20
    assert [w.requests for w in world.windows()] == [20]


def test_without_a_reference_requests_and_latency_are_still_counted(world: World) -> None:
    world.segment(one_row_requests(census_rows(2018, 30), NOON, SECOND), deployment="unknown-api")
    world.segment(one_row_requests(census_rows(2018, 30), NOON, SECOND), revision="f" * 40)
    report = world.update()
    assert report.segments == 2 and report.requests == 60
    assert sorted(report.notes) == [
        "employment-api at ffffffffffff: no reference profile: revision ffffffffffff cannot be "
        "read: unknown revision 'ffffffffffffffffffffffffffffffffffffffff' in "
        f"{world.repo.path.resolve()}",
        f"unknown-api at {world.revision[:12]}: no reference profile: unknown-api is not "
        f"declared at revision {world.revision[:12]}",
    ]
    for window in world.windows():
        assert window.requests == 30 and window.latency.count == 30 and window.p50 is not None
        assert window.features == {} and window.selections == {} and window.reference is None
        assert window.notes[0].startswith("no reference profile: ")


def test_rows_instances_and_json_types_read_as_the_reference_reads_them(world: World) -> None:
    rows = [_features(r) for r in census_rows(2018, 12)]
    typed = [dict(r) for r in rows[:4]]
    for r in typed:  # codes sent as numbers, age as text: the same values to the profile
        r["SCHL"], r["SEX"], r["AGEP"] = int(r["SCHL"]), int(r["SEX"]), str(r["AGEP"])
    unseen = dict(rows[4], MAR="not-a-code", DIS=None)
    del unseen["ANC"]  # a missing key is a missing value
    records = [
        answered(0, NOON, rows[5:8], [1, 0, 1]),  # three rows in one request
        answered(1, NOON + SECOND, rows[8:10], [0, 1], key="instances"),
        answered(2, NOON + 2 * SECOND, typed, [1, 1, 0, True]),
        answered(3, NOON + 3 * SECOND, [unseen], [1.0]),
        answered(4, NOON + 4 * SECOND, rows[10:12], ["1", 0]),
    ]
    world.segment(records)
    world.update()
    (window,) = world.windows()
    assert window.unparsable == 0
    sent = [json.loads(r[8] or b"") for r in records]
    live = pd.DataFrame([row for body in sent for row in body.get("rows", body.get("instances"))])
    reference = world.profile()
    expected = reference.count(live)
    assert {n: f.counts for n, f in window.features.items()} == {
        n: f.counts for n, f in expected.features.items()
    }
    mar = window.features["MAR"]
    assert mar.counts[len(mar.categories)] == 1  # the unseen bin
    assert window.features["ANC"].counts[-1] == 1 and window.features["DIS"].counts[-1] == 1
    predictions = [1, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0]  # 1.0, True and "1" are the label 1
    sex = [str(s) for s in live["SEX"]]
    assert window.selections["SEX"] == {
        g: (sex.count(g), sum(p for s, p in zip(sex, predictions, strict=True) if s == g))
        for g in sorted(set(sex))
    }


def test_fairness_counts_per_group_match_a_group_by(world: World) -> None:
    rows = census_rows(2016, 4000, skip=1000)
    rng = np.random.default_rng(5)
    # A model that favours men: P(positive) 0.7 for SEX 1, 0.4 for SEX 2.
    predictions = [int(rng.random() < (0.7 if r["SEX"] == "1" else 0.4)) for r in rows]
    records = [
        answered(i, NOON + i * SECOND, [_features(r)], [p])
        for i, (r, p) in enumerate(zip(rows, predictions, strict=True))
    ]
    world.segment(records)
    world.update(window_seconds=86400)
    (window,) = world.windows()
    frame = pd.DataFrame(rows).assign(p=predictions)
    for attribute in ("SEX", "RAC1P"):
        by = frame.groupby(attribute, observed=True)["p"]
        assert window.selections[attribute] == {
            str(g): (int(n), int(s))
            for g, n, s in zip(by.size().index, by.size(), by.sum(), strict=True)
        }
        rates = by.mean()
        sizes = by.size()
        gated = rates[sizes >= 100]
        assert window.parity_difference(attribute, min_group=100) == pytest.approx(
            gated.max() - gated.min(), abs=1e-12
        )
    assert 0.25 < window.parity_difference("SEX") < 0.35  # type: ignore[operator]
    assert window.parity_difference("RAC1P", min_group=10**6) is None


def test_window_seconds_must_be_a_positive_whole_number(world: World) -> None:
    for bad in (0, -5, 1.5, True):
        with pytest.raises(UsageError, match="window_seconds"):
            world.update(window_seconds=bad)  # type: ignore[arg-type]


def test_cost_comes_from_the_metered_cost_records_of_the_window(world: World) -> None:
    # 12:00–13:00 and 13:00–13:20: two hours of metered usage.
    records = one_row_requests(census_rows(2018, 1600), NOON, 3 * SECOND)
    world.segment(records)
    world.update(window_seconds=1800)
    meter(world.repo.git, state_dir=world.state_dir, database=world.db)
    with world.db.transaction() as conn:
        costs = [
            (r.ChargePeriodStart, Decimal(r.EffectiveCost))
            for r in conn.execute(
                select(cost_records).where(cost_records.c.ResourceName == "employment-api")
            )
        ]
    hourly: dict[str, Decimal] = {}
    for start, cost in costs:
        hourly[start] = hourly.get(start, Decimal(0)) + cost
    assert sorted(hourly) == ["2026-11-23T12:00:00Z", "2026-11-23T13:00:00Z"]
    assert all(cost > 0 for cost in hourly.values())
    windows = world.windows()
    assert [w.start.strftime("%H:%M") for w in windows] == ["12:00", "12:30", "13:00"]
    # Half-hour windows get half of their hour's cost each (prorated by time).
    noon, one = hourly["2026-11-23T12:00:00Z"], hourly["2026-11-23T13:00:00Z"]
    assert [w.cost for w in windows] == [noon / 2, noon / 2, one / 2]
    assert windows[0].cost_rate == noon
    assert sum(w.cost for w in windows) == noon + one / 2
    assert load_windows(world.db, environment="staging") == []
    assert [w.start for w in load_windows(world.db, since=windows[1].start)] == [
        windows[1].start,
        windows[2].start,
    ]


def test_a_segment_of_several_revisions_counts_each_against_its_own(world: World) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = world.segment(one_row_requests(census_rows(2018, 40), NOON, SECOND))
    second = world.segment(
        one_row_requests(census_rows(2017, 25), NOON, SECOND, first=100), revision="e" * 40
    )
    # One file holding both, written without statistics: its keys are read from its rows.
    table = pa.concat_tables([pq.read_table(first), pq.read_table(second)])
    first.unlink()
    second.unlink()
    pq.write_table(table, first.parent / "7-000000.parquet", write_statistics=False)
    report = world.update()
    assert report.segments == 1 and report.requests == 65
    windows = {w.revision: w for w in world.windows()}
    assert windows[world.revision].requests == 40 and len(windows[world.revision].features) == 16
    assert windows["e" * 40].requests == 25 and windows["e" * 40].features == {}
    assert windows["e" * 40].notes[0].startswith("no reference profile: revision eeeeeeeeeeee")


def test_bodies_of_the_wrong_shape_are_unparsable_without_failing_the_rest(
    world: World,
) -> None:
    rows = census_rows(2018, 8)
    good = one_row_requests(rows[:4], NOON, SECOND)
    odd = [
        answered(i, NOON + (10 + i) * SECOND, [_features(rows[4])], [1], body=body)
        for i, body in enumerate(
            [b'{"rows": 5}', b"[1, 2]", b'"rows"', b"{}", b'{"rows": {"AGEP": 3}}']
        )
    ]
    # Valid JSON all of it: read in one pass, without the slower tolerant reading.
    world.segment(good + odd)
    report = world.update()
    assert report.unparsable == 5
    (window,) = world.windows()
    assert (window.requests, window.unparsable) == (9, 5)
    live = world.profile().count(pd.DataFrame([_features(r) for r in rows[:4]]))
    assert {n: f.counts for n, f in window.features.items()} == {
        n: f.counts for n, f in live.features.items()
    }

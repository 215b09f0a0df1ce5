"""Benchmark of telemetry windows: 1M logged census requests windowed, in one run.

The world is the ``acs-employment`` example (scaffolded: its two models are trained)
and one million requests to its ``employment-fair`` deployment, written by the runtime's
own telemetry writer in segments of 10,000 (its ``maxBatchRows``): real ACS person
records of 2016, 2017 and 2018 replayed one year per day over three days, each body
``{"rows": [{feature: value, …}]}`` as a client sends it (1 % carry three rows), each
answer the runtime's ``{"predictions": [...], "probabilities": …, "classes": …}`` from the
real model, log-normal latencies with a slow mode and stalls, 0.3 % refused (429) and
0.2 % bad requests (400), a cold start every six hours.

Measured, on the same segments in the same process:

- ``update_windows`` on a fresh database (median of ``--repeat`` runs), hourly windows,
  with the deployment's reference (built from its training data) resolved beforehand —
  the bar: < 2 s for 1M requests; its CPU time too (the machine is shared);
- the incremental cost: one more segment of 10,000 requests added to the 1M;
- the baseline in the brief: pandas — ``json.loads`` each body and answer, one DataFrame,
  ``Profile.count`` and a group-by per window, ``np.percentile`` for latency — whose
  numbers must equal ours (requests, errors, every bin count, selections; quantiles
  within 1 %), else the script exits 1;
- with ``--options``: other ways to read the bodies (DuckDB unnesting every row list;
  pyarrow's JSON reader on the bodies as NDJSON), for decision 0029.

Usage: python bench/monitor_bench.py [--requests 1000000] [--repeat 3] [--options]
       [--baseline-repeat 1] [--regenerate] [--no-write]
Progress on stderr, the table on stdout; writes bench/out/monitor.json and, unless
--no-write, the table in docs/performance.md. The generated segments are kept in
bench/out/monitor-<requests>/ and reused.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from alignops.evidence.artifacts import load_model
from alignops.monitor.latency import ALPHA
from alignops.monitor.reference import Reference, ReferenceProfiles
from alignops.monitor.windows import Window, load_windows, update_windows
from alignops.runtime.telemetry import Telemetry
from alignops.source import ConfigRepository
from alignops.store import Database

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
DOC = ROOT / "docs" / "performance.md"
DEPLOYMENT = "employment-fair"
ENVIRONMENT = "production"
START = datetime(2026, 11, 23, tzinfo=UTC)
DAY_US = 86_400 * 1_000_000
WINDOW_SECONDS = 3600
SEED = 20261123

_STARTED = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:7.1f} s] {message}", file=sys.stderr, flush=True)


# -- the world -------------------------------------------------------------------------------


def prepare(requests: int, segment_rows: int, regenerate: bool) -> tuple[Path, str]:
    """The scaffolded example and its telemetry (made once, reused); (folder, revision)."""
    folder = OUT / f"monitor-{requests}"
    marker = folder / "ready.json"
    if marker.exists() and not regenerate:
        meta = json.loads(marker.read_text())
        log(f"reusing {folder} ({meta['segments']} segments)")
        return folder, meta["revision"]
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    from alignops.scaffold import scaffold

    log("scaffolding acs-employment (trains its two models)")
    repo = scaffold(folder / "config", template="acs-employment")
    revision = repo.head()
    snapshot = repo.snapshot(revision)
    model_resource = snapshot.resources[f"Model/{DEPLOYMENT}"]
    estimator = load_model(snapshot, model_resource).estimator
    features = list(model_resource.model.spec.features)  # type: ignore[attr-defined]
    data = ROOT / "src" / "alignops" / "scaffold" / "templates" / "acs-employment" / "data"
    years = [pd.read_parquet(data / f"production-{y}.parquet") for y in (2016, 2017, 2018)]
    log("scoring the census rows with the real model")
    scored = []
    for frame in years:
        X = frame[features]
        scored.append(
            (X.to_dict("records"), estimator.predict(X).tolist(),
             estimator.predict_proba(X).round(6).tolist())
        )  # fmt: skip
    segments = write_telemetry(folder, revision, scored, requests, segment_rows)
    marker.write_text(json.dumps({"revision": revision, "segments": segments}))
    return folder, revision


def write_telemetry(
    folder: Path,
    revision: str,
    scored: list[tuple[list[dict[str, Any]], list[Any], list[Any]]],
    requests: int,
    segment_rows: int,
) -> int:
    """``requests`` records through the runtime's writer, one census year per day."""
    rng = np.random.default_rng(SEED)
    step = 3 * DAY_US / requests
    start_us = int(START.timestamp() * 1_000_000)
    latency = np.concatenate(
        [
            rng.lognormal(math.log(0.6), 0.35, requests),
            rng.lognormal(math.log(4.0), 0.6, requests),
            rng.uniform(200.0, 9000.0, requests),
        ]
    )
    mode = rng.choice(3, requests, p=[0.93, 0.065, 0.005])
    latencies = latency[mode * requests + np.arange(requests)]
    kind = rng.choice(4, requests, p=[0.985, 0.01, 0.003, 0.002])  # ok, 3 rows, 429, 400
    telemetry: Telemetry | None = None
    process = -1
    for i in range(requests):
        ts = start_us + int(i * step) + int(rng.integers(0, max(1, int(step))))
        day = min(int((ts - start_us) // DAY_US), 2)
        rows, predictions, probabilities = scored[day]
        cold = (ts - start_us) // (6 * 3600 * 1_000_000) != process  # a new process every 6 h
        if cold:
            if telemetry is not None:
                telemetry.close()
            process = (ts - start_us) // (6 * 3600 * 1_000_000)
            telemetry = Telemetry(
                folder / "state" / "telemetry",
                deployment=DEPLOYMENT,
                environment=ENVIRONMENT,
                revision=revision,
                memory_limit_mb=1024,
                flush_seconds=3600,
                max_batch_rows=10**9,
                buffer_limit=10**9,
            )
            telemetry.init_ms = float(rng.uniform(900, 2500))
        assert telemetry is not None
        request_id = str(uuid.UUID(int=int(rng.integers(0, 2**63)) + i))
        lat = float(latencies[i])
        k = int(kind[i])
        if k == 2:  # refused before routing: no body, not billed
            record = (request_id, ts, None, None, 429, 0.2, cold, 0, None,
                      b'{"error":"too-many-requests"}', "too-many-requests", 0)  # fmt: skip
        else:
            count = 3 if k == 1 else 1
            picks = rng.integers(0, len(rows), count)
            body = {"rows": [rows[j] for j in picks]}
            if k == 3:  # a feature missing: the runtime answers 400
                body = {"rows": [{f: v for f, v in rows[picks[0]].items() if f != "AGEP"}]}
                out = json.dumps({"error": "bad-request", "message": "rows[0] has no feature 'AGEP'",
                                  "requestId": request_id}).encode()  # fmt: skip
                record = (request_id, ts, DEPLOYMENT, "1.0.0", 400, lat, cold, 0,
                          json.dumps(body).encode(), out, "bad-request", max(1, math.ceil(lat)))  # fmt: skip
            else:
                out = json.dumps(
                    {
                        "predictions": [predictions[j] for j in picks],
                        "model": DEPLOYMENT,
                        "version": "1.0.0",
                        "revision": revision,
                        "requestId": request_id,
                        "probabilities": [probabilities[j] for j in picks],
                        "classes": [0, 1],
                    },
                    separators=(",", ":"),
                ).encode()
                record = (request_id, ts, DEPLOYMENT, "1.0.0", 200, lat, cold, count,
                          json.dumps(body).encode(), out, None, max(1, math.ceil(lat)))  # fmt: skip
        telemetry.record(record)
        if telemetry.status().buffered >= segment_rows:
            telemetry.flush()
        if (i + 1) % 100_000 == 0:
            log(f"generated {i + 1:,} requests")
    assert telemetry is not None
    telemetry.close()
    return len(list((folder / "state" / "telemetry").glob("*/*.parquet")))


# -- measuring -------------------------------------------------------------------------------


def timed(fn: Callable[[], Any], repeat: int, what: str) -> tuple[list[float], list[float], Any]:
    """Wall and CPU seconds of ``repeat`` calls of ``fn``, and the last result."""
    walls, cpus, result = [], [], None
    for i in range(repeat):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        log(f"{what}: run {i + 1}/{repeat} {walls[-1]:.3f} s (CPU {cpus[-1]:.3f} s)")
    return walls, cpus, result


def fresh_database(db_dir: Path) -> Database:
    """A new, migrated state database (migrating is not part of the measurement)."""
    return Database(f"sqlite:///{db_dir / f'{uuid.uuid4().hex}.db'}")


def ours(state: Path, references: ReferenceProfiles, database: Database) -> None:
    update_windows(
        state_dir=state, database=database, references=references,
        window_seconds=WINDOW_SECONDS, machine="bench",
    )  # fmt: skip


def baseline(state: Path, reference: Reference) -> dict[int, dict[str, Any]]:
    """The naive way: every body through ``json.loads``, pandas, ``Profile.count``."""
    profile = reference.profile
    assert profile is not None
    columns = ["timestamp", "status", "latency_ms", "cold_start", "inputs", "outputs"]
    table = pq.read_table(state / "telemetry", columns=columns)
    micros = table["timestamp"].cast("int64").to_numpy()
    frame = table.drop_columns(["timestamp"]).to_pandas()
    frame["w"] = micros // (WINDOW_SECONDS * 1_000_000)
    live: list[dict[str, Any]] = []
    owner: list[int] = []
    predictions: list[Any] = []
    answered = frame[frame["status"] < 400]
    for w, inputs, outputs in zip(
        answered["w"], answered["inputs"], answered["outputs"], strict=True
    ):
        body = json.loads(inputs)
        rows = body.get("rows", body.get("instances"))
        live.extend(rows)
        owner.extend([w] * len(rows))
        predictions.extend(json.loads(outputs)["predictions"])
    rows_frame = pd.DataFrame(live)
    rows_frame["w"] = owner
    rows_frame["positive"] = np.asarray(predictions) == 1
    out: dict[int, dict[str, Any]] = {}
    for w, part in frame.groupby("w"):
        out[int(w)] = {
            "requests": len(part),
            "errors": int((part["status"] >= 400).sum()),
            "cold_starts": int(part["cold_start"].sum()),
            **{
                f"p{q}": _order_statistic(part["latency_ms"].to_numpy(), q / 100)
                for q in (50, 95, 99)
            },
            **{f"numpy_p{q}": float(np.percentile(part["latency_ms"], q)) for q in (50, 95, 99)},
        }
    for w, part in rows_frame.groupby("w"):
        counted = profile.count(part[list(profile.features)])
        out[int(w)]["features"] = {n: f.counts for n, f in counted.features.items()}
        out[int(w)]["selections"] = {
            attribute: {
                str(g): (len(p), int(p["positive"].sum()))
                for g, p in part.groupby(part[attribute].astype(str))
            }
            for attribute in reference.protected
        }
    return out


def _order_statistic(values: np.ndarray, q: float) -> float:
    """The latency of rank ⌊q·(n − 1)⌋: what a quantile of the histogram is within 1 % of
    (numpy's percentile interpolates between it and the next)."""
    return float(
        np.partition(values, math.floor(q * (len(values) - 1)))[math.floor(q * (len(values) - 1))]
    )


def same_numbers(windows: list[Window], expected: dict[int, dict[str, Any]]) -> list[str]:
    problems = []
    for window in windows:
        w = int(window.start.timestamp()) // WINDOW_SECONDS
        e = expected.get(w)
        if e is None:
            problems.append(f"{window.start}: not in the baseline")
            continue
        if (window.requests, window.errors, window.cold_starts) != (
            e["requests"], e["errors"], e["cold_starts"],
        ):  # fmt: skip
            problems.append(f"{window.start}: requests/errors/cold starts differ")
        if {n: f.counts for n, f in window.features.items()} != e["features"]:
            problems.append(f"{window.start}: feature bins differ")
        if window.selections != e["selections"]:
            problems.append(f"{window.start}: selections differ")
        for q in ("p50", "p95", "p99"):
            ours_q = getattr(window, q)
            if abs(ours_q - e[q]) > ALPHA * e[q] * (1 + 1e-9):
                problems.append(f"{window.start}: {q} {ours_q} vs {e[q]} (numpy {e['numpy_' + q]})")
    if len(windows) != len(expected):
        problems.append(f"{len(windows)} windows, the baseline has {len(expected)}")
    return problems


# -- other ways to read the bodies (decision 0029) -------------------------------------------


def options(state: Path, reference: Reference, repeat: int) -> dict[str, Any]:
    """Ways to turn the answered requests' bodies into Arrow columns of row values and
    predictions (no counting): what decision 0029 chose between; and the query
    ``update_windows`` runs (the same, with the categories binned in SQL)."""
    import duckdb
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    from alignops.monitor.windows_reading import _Plan

    assert reference.profile is not None
    plan = _Plan(reference.profile.features, reference.protected)
    files = sorted(str(p) for p in (state / "telemetry").glob("*/*.parquet"))
    params = {
        "files": files,
        "s": json.dumps({"rows": [plan.schema()], "instances": [plan.schema()]}),
        "o": json.dumps({"predictions": ["VARCHAR"]}),
    }
    parsed = (
        "SELECT epoch_us(timestamp) AS ts, coalesce(b.rows, b.instances) AS r, p FROM ("
        "SELECT timestamp, try(from_json(inputs, $s)) AS b, "
        "try(from_json(outputs, $o)).predictions AS p FROM read_parquet($files) "
        "WHERE status < 400)"
    )
    first_row = (
        "SELECT ts, r[1] AS r1, CASE WHEN len(r) > 1 THEN r[2:] END AS more, p[1] AS p1, "
        f"CASE WHEN len(p) > 1 THEN p[2:] END AS pmore FROM ({parsed})"
    )
    unnest_all = f"SELECT ts, unnest(r) AS r, unnest(p) AS p FROM ({parsed})"
    connection = duckdb.connect()

    def ndjson(column: Any) -> pa.Buffer:
        """The bodies, one per line (a body's own line breaks are blanks in JSON)."""
        array = column.combine_chunks()
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[
            array.offset : array.offset + len(array) + 1
        ]
        data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].copy()
        data[(data == 10) | (data == 13)] = 32
        return pa.py_buffer(np.insert(data, offsets[1:] - offsets[0], 10))

    row_type = pa.struct(
        [(n, pa.float64() if t == "DOUBLE" else pa.string()) for n, t in plan.schema().items()]
    )
    inputs_schema = pa.schema([("rows", pa.list_(row_type)), ("instances", pa.list_(row_type))])
    outputs_schema = pa.schema([("predictions", pa.list_(pa.int64()))])

    def arrow_json() -> Any:
        table = pq.read_table(files, columns=["inputs", "outputs", "status"])
        table = table.filter(pc.less(table["status"], 400))
        read = [
            pj.read_json(
                pa.BufferReader(ndjson(table[column])),
                parse_options=pj.ParseOptions(
                    explicit_schema=schema, unexpected_field_behavior="ignore"
                ),
            )
            for column, schema in (("inputs", inputs_schema), ("outputs", outputs_schema))
        ]
        return read

    ours = {
        "files": files,
        "environment": ENVIRONMENT,
        "deployment": DEPLOYMENT,
        "revision": reference.revision,
        "inputs": params["s"],
        "outputs": params["o"],
    }
    results: dict[str, Any] = {}
    for name, fn in (
        ("DuckDB `from_json`, every row list unnested (chosen)",
         lambda: connection.sql(unnest_all, params=params).to_arrow_table()),
        ("… the same with categories binned in SQL (the query `update_windows` runs)",
         lambda: connection.sql(plan.sql(), params=ours).to_arrow_table()),
        ("DuckDB `from_json`, each request's first row taken, the others flattened",
         lambda: connection.sql(first_row, params=params).to_arrow_table()),
        ("pyarrow: bodies joined as NDJSON, `pyarrow.json.read_json` (predictions as integers)",
         arrow_json),
    ):  # fmt: skip
        walls, cpus, _ = timed(fn, repeat, name)
        results[name] = {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus)}
    connection.close()
    return results


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--segment-rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-repeat", type=int, default=1)
    parser.add_argument("--options", action="store_true")
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    folder, revision = prepare(args.requests, args.segment_rows, args.regenerate)
    state = folder / "state"
    repository = ConfigRepository(folder / "config")
    references = ReferenceProfiles(repository)
    walls, cpus, reference = timed(
        lambda: ReferenceProfiles(repository).get(DEPLOYMENT, revision), 1, "reference (cold)"
    )
    reference_s = walls[0]
    reference = references.get(DEPLOYMENT, revision)
    assert reference.profile is not None, reference.problem
    import duckdb

    summary: dict[str, Any] = {
        "requests": args.requests,
        "segments": len(list((state / "telemetry").glob("*/*.parquet"))),
        "bytes": sum(p.stat().st_size for p in (state / "telemetry").glob("*/*.parquet")),
        "window_seconds": WINDOW_SECONDS,
        "features": len(reference.profile.features),
        "protected": list(reference.protected),
        "duckdb": duckdb.__version__,
        "reference_s": reference_s,
    }
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        walls, cpus = [], []
        for i in range(args.repeat):
            database = fresh_database(tmp)
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            ours(state, references, database)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            log(f"update_windows (fresh database): run {i + 1}/{args.repeat} "
                f"{walls[-1]:.3f} s (CPU {cpus[-1]:.3f} s)")  # fmt: skip
            started = time.perf_counter()
            windows = load_windows(database)
            summary["load_windows_s"] = time.perf_counter() - started
            database.close()
        summary["ours_s"] = statistics.median(walls)
        summary["ours_cpu_s"] = statistics.median(cpus)
        summary["ours_runs_s"] = walls
        summary["windows"] = len(windows)
        # Incremental: the 1M counted, then one more segment of 10,000 requests.
        database = Database(f"sqlite:///{tmp / 'incremental.db'}")
        update_windows(state_dir=state, database=database, references=references,
                       window_seconds=WINDOW_SECONDS, machine="bench")  # fmt: skip
        extra = tmp / "extra"
        shutil.copytree(state, extra)
        segment = sorted((extra / "telemetry" / DEPLOYMENT).glob("*.parquet"))[-1]
        shutil.copy(segment, segment.with_name("999999-000000.parquet"))
        rows = pq.ParquetFile(segment).metadata.num_rows
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        added = update_windows(state_dir=extra, database=database, references=references,
                               window_seconds=WINDOW_SECONDS, machine="bench")  # fmt: skip
        summary["incremental_s"] = time.perf_counter() - wall
        summary["incremental_cpu_s"] = time.process_time() - cpu
        summary["incremental_requests"] = rows
        assert added.segments == 1 and added.requests == rows
        database.close()
        log(f"incremental: {rows} requests in {summary['incremental_s']:.3f} s")

    walls, cpus, expected = timed(
        lambda: baseline(state, reference), args.baseline_repeat, "baseline (pandas)"
    )
    summary["baseline_s"] = statistics.median(walls)
    summary["baseline_cpu_s"] = statistics.median(cpus)
    problems = same_numbers(windows, expected)
    summary["same_numbers"] = not problems
    deviations = sorted(
        abs(getattr(w, q) - e[f"numpy_{q}"]) / e[f"numpy_{q}"]
        for w in windows
        if (e := expected.get(int(w.start.timestamp()) // WINDOW_SECONDS))
        for q in ("p50", "p95", "p99")
    )
    summary["quantile_vs_numpy_median"] = statistics.median(deviations)
    summary["quantile_vs_numpy_max"] = deviations[-1]
    if args.options:
        summary["options"] = options(state, reference, args.repeat)

    n = args.requests
    ratio = summary["baseline_s"] / summary["ours_s"]
    summary["speedup"] = ratio
    summary["us_per_request"] = summary["ours_s"] / n * 1e6
    summary["cpu_us_per_request"] = summary["ours_cpu_s"] / n * 1e6
    summary["incremental_us_per_request"] = summary["incremental_s"] / rows * 1e6
    lines = [
        f"{n:,} logged requests to `{DEPLOYMENT}` ({summary['segments']} segments, "
        f"{summary['bytes'] / 1e6:.0f} MB of Parquet), {summary['features']} features in the "
        f"reference's bins, selections by {', '.join(reference.protected)}, latency, errors and "
        f"cold starts per hour ({summary['windows']} windows); DuckDB {duckdb.__version__}. "
        f"Medians of {args.repeat} runs on a fresh database each (baseline: "
        f"{args.baseline_repeat} run{'s' if args.baseline_repeat != 1 else ''}).",
        "",
        "| what | wall | CPU | per request |",
        "|---|---|---|---|",
        f"| `update_windows`, 1M requests (bar: < 2 s) | **{summary['ours_s']:.2f} s** | "
        f"{summary['ours_cpu_s']:.2f} s | {summary['us_per_request']:.2f} µs |",
        f"| … one more segment of {rows:,} requests | {summary['incremental_s'] * 1000:.0f} ms | "
        f"{summary['incremental_cpu_s'] * 1000:.0f} ms | "
        f"{summary['incremental_us_per_request']:.2f} µs |",
        f"| baseline: `json.loads` + pandas + `Profile.count` per window | "
        f"{summary['baseline_s']:.1f} s | {summary['baseline_cpu_s']:.1f} s | "
        f"{summary['baseline_s'] / n * 1e6:.1f} µs |",
        f"| `load_windows`, all {summary['windows']} with their cost | "
        f"{summary['load_windows_s'] * 1000:.0f} ms | | |",
        f"| reference profile, built once per (deployment, revision) | {reference_s:.2f} s | | |",
        "",
        f"Speed-up over the baseline: **{ratio:.0f}×**; same numbers (requests, errors, every "
        f"bin count, selections; p50/p95/p99 within 1 % of the order statistic): "
        f"**{'yes' if not problems else 'NO'}** (against numpy's interpolated percentiles: "
        f"median deviation {summary['quantile_vs_numpy_median']:.2%}, largest "
        f"{summary['quantile_vs_numpy_max']:.1%}, where neighbouring latencies are far apart). "
        "Bar < 2 s: "
        f"**{'met' if summary['ours_s'] < 2 else 'NOT met'}**.",
    ]
    if args.options:
        lines += ["", "| reading the bodies | wall | CPU |", "|---|---|---|"]
        for name, r in summary["options"].items():
            lines.append(f"| {name} | {r['wall_s']:.2f} s | {r['cpu_s']:.2f} s |")
    table = "\n".join(lines)
    print(table)
    OUT.mkdir(exist_ok=True)
    (OUT / "monitor.json").write_text(json.dumps({**summary, "problems": problems}, indent=2))
    if not args.no_write:
        write_section(DOC, "monitor", table)
    if problems:
        print("\n".join(problems[:20]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

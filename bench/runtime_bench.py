"""Benchmark of the local runtime's service process against a bare FastAPI app.

Both serve the same skops file (a scikit-learn logistic regression, 5 features) with the
same code for a request (``ModelVersion.respond``: parse the JSON rows, ``predict`` and
``predict_proba``, encode the answer) under the same uvicorn settings (uvloop, httptools,
one worker, no access log):

- **runtime**: ``python -m alignops.runtime --spec spec.json`` — telemetry on (Parquet,
  default flush policy), concurrency/timeout/memory limits, canary routing, request ids,
  the model off the event loop in worker threads with batching;
- **runtime, batch: false**: the same, scoring one request per model call;
- **bare**: one ``async def`` FastAPI handler calling the model inline on the event loop
  (what a person writes first, and what FACTS.md measured);
- **bare, thread pool**: the same handler with the model in ``run_in_executor`` — the
  plain way to keep the loop free.

The load generator runs in its own process: keep-alive connections, pre-encoded
requests, responses parsed by httptools on uvloop (closed loop: each connection sends
its next request when the answer arrives). Each server runs a warm-up, then a measured
window; servers alternate within each round; the table gives medians over the rounds.
After each runtime run the telemetry segments are read back and must hold one row per
answered request.

Usage: python bench/runtime_bench.py [--rounds 3] [--seconds 10] [--connections 64,1]
Writes bench/out/runtime.json and the table in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response  # module level: FastAPI resolves annotations here

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section

ROOT = Path(__file__).resolve().parents[1]
FEATURES = ["f0", "f1", "f2", "f3", "f4"]
BODY = json.dumps({"rows": [dict(zip(FEATURES, [0.3, -1.2, 0.8, 0.05, 1.7], strict=True))]})
SERVERS = ("runtime", "runtime-unbatched", "bare", "bare-threads")
LABELS = {
    "runtime": "alignops runtime (telemetry on)",
    "runtime-unbatched": "alignops runtime, `batch: false` (telemetry on)",
    "bare": "bare FastAPI, model inline on the event loop",
    "bare-threads": "bare FastAPI, model in `run_in_executor`",
}
TICKS = os.sysconf("SC_CLK_TCK")


# -- the bare app (run in its own process) ---------------------------------------------


def serve_bare(spec_path: Path, threads: bool) -> None:
    import uvicorn

    from alignops.runtime.model import load_model_version
    from alignops.runtime.spec import load_spec

    spec = load_spec(spec_path)
    version = load_model_version(spec.models[0], where=str(spec_path))
    app = FastAPI()
    if threads:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(spec.concurrency)

        @app.post("/predict")
        async def predict_in_pool(request: Request) -> Response:
            body = await request.body()
            loop = asyncio.get_running_loop()
            out, _ = await loop.run_in_executor(pool, version.respond, body, "-", spec.revision)
            return Response(out, 200, None, "application/json")
    else:

        @app.post("/predict")
        async def predict(request: Request) -> Response:
            body = await request.body()
            out, _ = version.respond(body, "-", spec.revision)
            return Response(out, 200, None, "application/json")

    uvicorn.run(
        app,
        host=spec.host,
        port=spec.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        workers=1,
    )


# -- the load generator (run in its own process) ----------------------------------------


def client(port: int, connections: int, warmup: float, seconds: float) -> None:
    import httptools
    import uvloop

    request = (
        f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json"
        f"\r\nContent-Length: {len(BODY)}\r\n\r\n{BODY}"
    ).encode()
    counts = {"ok": 0, "other": 0, "all": 0}
    phase = {"measuring": False, "stop": False}

    class Connection(asyncio.Protocol):
        def __init__(self) -> None:
            self.parser = httptools.HttpResponseParser(self)
            self.transport: Any = None

        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            transport.write(request)

        def data_received(self, data: bytes) -> None:
            self.parser.feed_data(data)

        def on_message_complete(self) -> None:
            counts["all"] += 1
            if phase["measuring"]:
                counts["ok" if self.parser.get_status_code() == 200 else "other"] += 1
            if not phase["stop"]:
                self.transport.write(request)

    async def run() -> dict[str, float]:
        loop = asyncio.get_running_loop()
        for _ in range(connections):
            await loop.create_connection(Connection, "127.0.0.1", port)
        await asyncio.sleep(warmup)
        phase["measuring"] = True
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        phase["measuring"] = False
        elapsed = time.perf_counter() - started
        phase["stop"] = True
        await asyncio.sleep(0.5)  # the last answers arrive; nothing new is sent
        return {**counts, "seconds": elapsed}

    print(json.dumps(uvloop.run(run())))


# -- orchestration --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/predict", BODY.encode(), method="POST"
            )
            with urllib.request.urlopen(req, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server not ready in 60 s")


def make_model(tmp: Path) -> tuple[Path, str]:
    import numpy as np
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(20261123)
    X = rng.normal(size=(2000, len(FEATURES)))
    y = (X[:, 0] - X[:, 1] + 0.5 * X[:, 2] + rng.normal(scale=0.5, size=2000) > 0).astype(int)
    data = sio.dumps(LogisticRegression().fit(X, y))
    path = tmp / "scorer.skops"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def run_once(
    server: str, tmp: Path, model: tuple[Path, str], connections: int, args: argparse.Namespace
) -> dict[str, Any]:
    port = free_port()
    telemetry = tmp / f"telemetry-{port}"
    spec = {
        "deployment": "bench-scorer",
        "environment": "bench",
        "revision": "0" * 40,
        "port": port,
        "memoryMb": 2048,
        "concurrency": 256,
        "timeoutSeconds": 30,
        "telemetry": {"directory": str(telemetry)},
        "models": [
            {
                "name": "scorer",
                "version": "1",
                "path": str(model[0]),
                "sha256": model[1],
                "features": FEATURES,
                "batch": server != "runtime-unbatched",
            }
        ],
    }
    spec_path = tmp / f"spec-{port}.json"
    spec_path.write_text(json.dumps(spec))
    if server.startswith("runtime"):
        command = [sys.executable, "-m", "alignops.runtime", "--spec", str(spec_path)]
    else:
        mode = "--serve-bare-threads" if server == "bare-threads" else "--serve-bare"
        command = [sys.executable, __file__, mode, str(spec_path)]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        wait_ready(port, process)
        cpu_before = cpu_seconds(process.pid)
        load = subprocess.run(
            [sys.executable, __file__, "--client", str(port), str(connections),
             str(args.warmup), str(args.seconds)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        cpu_after = cpu_seconds(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    counts = json.loads(load.stdout)
    result: dict[str, Any] = {
        "server": server,
        "connections": connections,
        "rps": counts["ok"] / counts["seconds"],
        "errors": counts["other"],
        # server CPU over warm-up and window, per request of the window: an upper bound
        "cpu_ms_per_request": (cpu_after - cpu_before) * 1000 / max(1, counts["ok"]),
    }
    if server.startswith("runtime"):
        import pyarrow.parquet as pq

        rows = pq.read_table(telemetry / "bench-scorer", columns=["status"]).num_rows
        result["telemetry_rows"] = rows
        result["answered"] = counts["all"] + 1  # and the readiness probe
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", default="64,1")
    args = parser.parse_args()
    levels = [int(c) for c in args.connections.split(",")]

    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model = make_model(tmp)
        for round_ in range(args.rounds):
            for connections in levels:
                order = SERVERS if round_ % 2 == 0 else tuple(reversed(SERVERS))
                for server in order:
                    run = run_once(server, tmp, model, connections, args)
                    print(json.dumps(run), flush=True)
                    runs.append(run)

    def median(server: str, connections: int, key: str) -> float:
        values = [r[key] for r in runs if r["server"] == server and r["connections"] == connections]
        return statistics.median(values)

    lines = [
        f"Medians of {args.rounds} rounds; each run: {args.warmup:g} s warm-up, "
        f"{args.seconds:g} s measured; one row per request (5 features).",
        "",
        "| server | connections | requests/s | ÷ bare (inline) | server CPU per request | "
        "all runs (requests/s) |",
        "|---|---|---|---|---|---|",
    ]
    summary: dict[str, Any] = {"rounds": args.rounds, "seconds": args.seconds, "runs": runs}
    for connections in levels:
        bare = median("bare", connections, "rps")
        for server in SERVERS:
            rps = median(server, connections, "rps")
            cpu = median(server, connections, "cpu_ms_per_request")
            each = ", ".join(
                f"{r['rps']:,.0f}"
                for r in runs
                if r["server"] == server and r["connections"] == connections
            )
            ratio = f"**{rps / bare:.0%}**" if server == "runtime" else f"{rps / bare:.0%}"
            lines.append(
                f"| {LABELS[server]} | {connections} | {rps:,.0f} | {ratio} | {cpu:.2f} ms | "
                f"{each} |"
            )
            summary[f"{server}@{connections}"] = {"rps": rps, "cpu_ms_per_request": cpu}
    errors = sum(r["errors"] for r in runs)
    telemetry_ok = all(
        r["telemetry_rows"] == r["answered"] for r in runs if r["server"].startswith("runtime")
    )
    main_level = levels[0]
    ratio = median("runtime", main_level, "rps") / median("bare", main_level, "rps")
    summary["ratio_vs_bare"] = ratio
    lines += [
        "",
        f"Bar: the runtime's requests/s ≥ 90 % of the bare app's at {main_level} connections "
        f"— **{ratio:.0%}**, {'met' if ratio >= 0.9 else 'NOT met'}"
        + "".join(
            f"; at {c}: {median('runtime', c, 'rps') / median('bare', c, 'rps'):.0%}"
            for c in levels[1:]
        )
        + f". Non-200 answers in all "
        f"runs: {errors}. Every runtime run's telemetry holds exactly one row per answered "
        f"request: {'yes' if telemetry_ok else 'NO'}.",
    ]
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "runtime.json").write_text(json.dumps(summary, indent=2) + "\n")
    table = "\n".join(lines)
    write_section(ROOT / "docs" / "performance.md", "runtime", table)
    print(table)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        port, connections, warmup, seconds = sys.argv[2:6]
        client(int(port), int(connections), float(warmup), float(seconds))
    elif len(sys.argv) > 1 and sys.argv[1] in ("--serve-bare", "--serve-bare-threads"):
        serve_bare(Path(sys.argv[2]), threads=sys.argv[1] == "--serve-bare-threads")
    else:
        main()

"""The HTTP inference service of one deployment: ``create_app(spec)``.

Endpoints (docs/runtime.md has examples):

- ``POST /predict`` — ``{"rows": [{feature: value, ...}, ...]}`` (or ``"instances"``)
  → ``{"predictions", "probabilities"?, "classes"?, "model", "version", "revision",
  "requestId"}``;
- ``GET /health`` — status, memory (now, peak, limit), requests in flight, telemetry,
  the digests of the loaded models;
- ``GET /metadata`` — deployment, environment, revision, models and their shares.

Handlers are ``async def`` and never block: the model runs in a thread pool with one
thread per allowed concurrent request. Limits: past ``concurrency`` requests in flight a
request is refused at once with 429 and ``Retry-After`` (decision 0012); past
``timeoutSeconds`` it gets 504; past ``memoryMb`` of resident memory the service refuses
everything with 503 and the process exits with status 137 (decision 0013). Every
``/predict`` request, whatever its status, is one telemetry record (decision 0014).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from alignops.runtime.batching import Batcher, Job
from alignops.runtime.limits import MEMORY_EXIT_CODE, MemoryWatch, process_start_time
from alignops.runtime.model import ModelVersion, RequestError, load_model_version
from alignops.runtime.routing import Router
from alignops.runtime.spec import ServiceSpec
from alignops.runtime.telemetry import Telemetry, billed

__all__ = ["Service", "create_app"]

_JSON = "application/json"
_TIMEOUT = object()
_MEMORY_FLUSH_SECONDS = 5.0


def _error_body(code: str, message: str, request_id: str) -> bytes:
    return json.dumps({"error": code, "message": message, "requestId": request_id}).encode()


class Service:
    """The state of one service process: models, router, limits, telemetry."""

    def __init__(self, spec: ServiceSpec, *, spec_file: str = "spec") -> None:
        self.spec = spec
        self.started_at = spec.started_at.timestamp() if spec.started_at else process_start_time()
        self.versions = [
            load_model_version(served, where=f"{spec_file}: models[{i}]")
            for i, served in enumerate(spec.models)
        ]
        self.executor = ThreadPoolExecutor(spec.concurrency, thread_name_prefix="predict")
        self.batchers = [
            Batcher(
                version,
                revision=spec.revision,
                executor=self.executor,
                max_workers=spec.concurrency,
                max_jobs=spec.max_batch_requests,
                batch=served.batch,
            )
            for version, served in zip(self.versions, spec.models, strict=True)
        ]
        self.router = Router(self.batchers)
        self.telemetry = Telemetry(
            spec.telemetry.directory,
            deployment=spec.deployment,
            environment=spec.environment,
            revision=spec.revision,
            memory_limit_mb=spec.memory_mb,
            flush_seconds=spec.telemetry.flush_seconds,
            max_batch_rows=spec.telemetry.max_batch_rows,
            buffer_limit=spec.telemetry.buffer_limit,
        )
        self.memory = MemoryWatch(
            spec.memory_mb, interval=spec.memory_check_seconds, on_exceeded=self._out_of_memory
        )
        self.in_flight = 0
        self.requests = 0
        self.ready_ms: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ----------------------------------------------------------------------

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        self._loop = asyncio.get_running_loop()
        for batcher in self.batchers:
            batcher.bind(self._loop, self._deliver)
        self.telemetry.start()
        self.memory.start()
        self.ready_ms = (time.time() - self.started_at) * 1000
        self.telemetry.init_ms = self.ready_ms
        try:
            yield
        finally:
            self.memory.stop()
            self.telemetry.close()
            self.executor.shutdown(wait=False, cancel_futures=True)

    def _out_of_memory(self, rss_mb: float) -> None:
        """Memory-watch thread: refuse requests, save telemetry, exit like an OOM kill."""
        print(
            f"alignops runtime: {self.spec.deployment}: resident memory {rss_mb:.0f} MB "
            f"exceeds the limit of {self.spec.memory_mb} MB; exiting with status "
            f"{MEMORY_EXIT_CODE}",
            file=sys.stderr,
            flush=True,
        )
        self.telemetry.close(timeout=_MEMORY_FLUSH_SECONDS)
        os._exit(MEMORY_EXIT_CODE)

    # -- handlers -----------------------------------------------------------------------

    async def predict(self, request: Request) -> Response:
        call = _Call(request.headers.get("x-request-id") or uuid.uuid4().hex, self.requests == 0)
        self.requests += 1
        if self.memory.exceeded:
            message = "the service exceeded its memory limit and is stopping"
            return self._refuse(call, 503, "memory-exceeded", message)
        if self.in_flight >= self.spec.concurrency:
            message = f"{self.spec.concurrency} requests are in flight already; retry later"
            return self._refuse(call, 429, "too-many-requests", message)
        self.in_flight += 1
        batcher = self.router.choose(call.request_id)
        version = batcher.version
        try:
            body = await request.body()
        except Exception:  # noqa: BLE001 - the client went away mid-body
            self.in_flight -= 1
            return self._answer(call, version, None, 499, b"", "client-disconnected", 0)
        loop = self._loop or asyncio.get_running_loop()
        job = Job(body, call.request_id, loop.create_future())
        batcher.submit(job)
        timer = loop.call_later(self.spec.timeout_seconds, _expire, job, batcher)
        try:
            outcome = await job.future
        except asyncio.CancelledError:  # the server gave up on it (shutdown grace expired)
            self._answer(call, version, body, 499, b"", "cancelled", 0)
            raise
        finally:
            timer.cancel()
        if isinstance(outcome, tuple):
            out, rows = outcome
            return self._answer(call, version, body, 200, out, None, rows)
        if outcome is _TIMEOUT:
            status, code = 504, "timeout"
            message = f"no answer within {self.spec.timeout_seconds:g} s"
        elif isinstance(outcome, RequestError):
            status, code, message = outcome.status, outcome.code, outcome.message
        else:
            status, code = 500, "model-error"
            message = f"the model failed: {type(outcome).__name__}: {outcome}"
        out = _error_body(code, message, call.request_id)
        return self._answer(call, version, body, status, out, code, 0)

    def _deliver(self, jobs: list[Job]) -> None:
        """Event loop: a worker finished these jobs; free their slots, wake their handlers."""
        for job in jobs:
            self.in_flight -= 1  # a slot is free only once the model really finished
            if not job.future.done():
                job.future.set_result(job.outcome)

    def _answer(
        self,
        call: _Call,
        version: ModelVersion,
        body: bytes | None,
        status: int,
        out: bytes,
        error: str | None,
        rows: int,
    ) -> Response:
        """Record a request the model was asked to answer (billed), and respond."""
        latency = (time.perf_counter() - call.started) * 1000
        cost = billed(latency) if status != 499 else 0
        self.telemetry.record(
            (call.request_id, call.timestamp, version.name, version.version, status, latency,
             call.cold, rows, body, out, error, cost)
        )  # fmt: skip
        return Response(out, status, {"x-request-id": call.request_id}, _JSON)

    def _refuse(self, call: _Call, status: int, code: str, message: str) -> Response:
        """Record a request refused before any model saw it (not billed), and respond."""
        out = _error_body(code, message, call.request_id)
        latency = (time.perf_counter() - call.started) * 1000
        self.telemetry.record(
            (call.request_id, call.timestamp, None, None, status, latency, call.cold, 0, None,
             out, code, 0)
        )  # fmt: skip
        headers = {"x-request-id": call.request_id}
        if status == 429:
            headers["retry-after"] = "1"
        return Response(out, status, headers, _JSON)

    async def health(self) -> Response:
        exceeded = self.memory.exceeded
        telemetry = self.telemetry.status()
        body = {
            "status": "memory-exceeded" if exceeded else "ok",
            "deployment": self.spec.deployment,
            "revision": self.spec.revision,
            "pid": os.getpid(),
            "memory": {
                "rssMb": round(self.memory.rss_mb, 1),
                "peakMb": round(self.memory.peak_mb, 1),
                "limitMb": self.spec.memory_mb,
            },
            "inFlight": self.in_flight,
            "concurrency": self.spec.concurrency,
            "requests": self.requests,
            "initMs": self.ready_ms,
            "models": [
                {"name": v.name, "version": v.version, "sha256": v.sha256} for v in self.versions
            ],
            "telemetry": {
                "buffered": telemetry.buffered,
                "written": telemetry.written,
                "segments": telemetry.segments,
                "dropped": telemetry.dropped,
                "failedFlushes": telemetry.failed_flushes,
                "error": telemetry.last_error,
            },
        }
        return Response(json.dumps(body).encode(), 503 if exceeded else 200, None, _JSON)

    async def metadata(self) -> Response:
        body = {
            "deployment": self.spec.deployment,
            "environment": self.spec.environment,
            "revision": self.spec.revision,
            "limits": {
                "memoryMb": self.spec.memory_mb,
                "concurrency": self.spec.concurrency,
                "timeoutSeconds": self.spec.timeout_seconds,
            },
            "models": [
                {
                    "name": v.name,
                    "version": v.version,
                    "sha256": v.sha256,
                    "percent": v.percent,
                    "features": list(v.features),
                }
                for v in self.versions
            ],
        }
        return Response(json.dumps(body).encode(), 200, None, _JSON)


class _Call:
    """One ``/predict`` request as telemetry sees it."""

    __slots__ = ("cold", "request_id", "started", "timestamp")

    def __init__(self, request_id: str, cold: bool) -> None:
        self.started = time.perf_counter()
        self.timestamp = time.time_ns() // 1000
        self.request_id = request_id
        self.cold = cold


def _expire(job: Job, batcher: Batcher) -> None:
    if not job.future.done():
        job.expired = True
        job.future.set_result(_TIMEOUT)
        batcher.kick()


def create_app(spec: ServiceSpec, *, spec_file: str = "spec") -> FastAPI:
    """The FastAPI app of one deployment. Loads (and digest-checks) every model first:
    an :class:`~alignops.errors.AlignOpsError` if any is refused."""
    service = Service(spec, spec_file=spec_file)
    app = FastAPI(
        title=f"alignops runtime: {spec.deployment}",
        lifespan=service.lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.service = service
    app.add_api_route("/predict", service.predict, methods=["POST"])
    app.add_api_route("/health", service.health, methods=["GET"])
    app.add_api_route("/metadata", service.metadata, methods=["GET"])
    return app

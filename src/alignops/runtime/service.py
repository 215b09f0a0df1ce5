"""What every service process shares, whatever it serves: lifecycle, limits, telemetry,
``/health`` and ``/metadata``.

A service serves models (:class:`~alignops.runtime.predict.ModelService`, ``POST
/predict``) or a Python handler (:class:`~alignops.runtime.function.FunctionService`,
``POST /invoke``); :func:`~alignops.runtime.app.create_app` picks by the spec. Both answer
through the same :class:`Service`:

- **admission** (:meth:`Service.admit`): past ``concurrency`` requests in flight a
  request is refused at once with 429 and ``Retry-After`` (decision 0012); once over
  ``memoryMb`` everything gets 503 and the process exits with status 137 (decision 0013);
- **work off the event loop**: one thread pool with one thread per allowed concurrent
  request; a request holds its slot until the work that answers it really finished, even
  past ``timeoutSeconds`` (its client got 504 by then);
- **telemetry**: every request to the service's endpoint, whatever its status, is one
  record (decision 0014), written by :meth:`Service.answer` or :meth:`Service.refuse`;
- **the other endpoint**: ``/invoke`` on a model service, ``/predict`` on a function
  service, is 404 with a pointer to the right one.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from fastapi import FastAPI, Request, Response

from alignops.runtime.limits import MEMORY_EXIT_CODE, MemoryWatch, process_start_time
from alignops.runtime.spec import ServiceSpec
from alignops.runtime.telemetry import Telemetry, billed

__all__ = ["ENDPOINTS", "Call", "Service", "error_body"]

ENDPOINTS = ("/predict", "/invoke")
"""The request endpoint of each kind of service; the one a service does not serve is 404."""

_JSON = "application/json"
_MEMORY_FLUSH_SECONDS = 5.0


def error_body(code: str, message: str, request_id: str, **extra: str) -> bytes:
    """The one shape of an error answer: ``{"error", "message", …, "requestId"}``."""
    return json.dumps(
        {"error": code, "message": message, **extra, "requestId": request_id}
    ).encode()


class Call:
    """One request as telemetry sees it."""

    __slots__ = ("cold", "request_id", "started", "timestamp")

    def __init__(self, request_id: str, cold: bool) -> None:
        self.started = time.perf_counter()
        self.timestamp = time.time_ns() // 1000
        self.request_id = request_id
        self.cold = cold


class Service(ABC):
    """The state one service process shares whatever it serves; subclasses add the
    endpoint (:attr:`endpoint`, :meth:`handle`) and what is served."""

    kind: ClassVar[str]
    """The manifest kind served: ``ModelDeployment`` or ``ServerlessFunction``."""
    endpoint: ClassVar[str]
    """Where requests go: ``/predict`` or ``/invoke``."""

    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self.started_at = spec.started_at.timestamp() if spec.started_at else process_start_time()
        self.executor = ThreadPoolExecutor(spec.concurrency, thread_name_prefix="worker")
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
        self.answered: dict[int, int] = {}
        """HTTP status → requests answered with it (for ``/metrics``)."""
        self.latency_ms_total = 0.0
        self.ready_ms: float | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- what subclasses say ------------------------------------------------------------

    @property
    @abstractmethod
    def serving(self) -> str:
        """What is served, for the line printed at start."""

    @abstractmethod
    def served(self) -> dict[str, Any]:
        """The part of ``/health`` that says what is served."""

    @abstractmethod
    def described(self) -> dict[str, Any]:
        """The part of ``/metadata`` that describes what is served."""

    @abstractmethod
    async def handle(self, request: Request) -> Response:
        """``POST`` :attr:`endpoint`."""

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called once the event loop runs, before the first request."""
        return None

    # -- lifecycle ----------------------------------------------------------------------

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        self.loop = asyncio.get_running_loop()
        self.bind(self.loop)
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

    # -- requests -----------------------------------------------------------------------

    def admit(self, request: Request) -> Call | Response:
        """A new request: its :class:`Call`, now in flight, or the refusal to send."""
        call = Call(request.headers.get("x-request-id") or uuid.uuid4().hex, self.requests == 0)
        self.requests += 1
        if self.memory.exceeded:
            message = "the service exceeded its memory limit and is stopping"
            return self.refuse(call, 503, "memory-exceeded", message)
        if self.in_flight >= self.spec.concurrency:
            message = f"{self.spec.concurrency} requests are in flight already; retry later"
            return self.refuse(call, 429, "too-many-requests", message)
        self.in_flight += 1
        return call

    def release(self) -> None:
        """Event loop: the work of an admitted request really finished; its slot is free."""
        self.in_flight -= 1

    def answer(
        self,
        call: Call,
        served: tuple[str | None, str | None],
        body: bytes | None,
        status: int,
        out: bytes,
        error: str | None,
        rows: int,
    ) -> Response:
        """Record a request the service worked on (billed unless the client went away),
        and respond. ``served`` is (model, model_version) for telemetry."""
        latency = (time.perf_counter() - call.started) * 1000
        cost = billed(latency) if status != 499 else 0
        self._tally(status, latency)
        self.telemetry.record(
            (call.request_id, call.timestamp, served[0], served[1], status, latency,
             call.cold, rows, body, out, error, cost)
        )  # fmt: skip
        return Response(out, status, {"x-request-id": call.request_id}, _JSON)

    def refuse(self, call: Call, status: int, code: str, message: str) -> Response:
        """Record a request refused before any work (not billed), and respond."""
        out = error_body(code, message, call.request_id)
        latency = (time.perf_counter() - call.started) * 1000
        self._tally(status, latency)
        self.telemetry.record(
            (call.request_id, call.timestamp, None, None, status, latency, call.cold, 0, None,
             out, code, 0)
        )  # fmt: skip
        headers = {"x-request-id": call.request_id}
        if status == 429:
            headers["retry-after"] = "1"
        return Response(out, status, headers, _JSON)

    def _tally(self, status: int, latency_ms: float) -> None:
        """Count an answer for ``/metrics``."""
        self.answered[status] = self.answered.get(status, 0) + 1
        self.latency_ms_total += latency_ms

    async def elsewhere(self, request: Request) -> Response:
        """The endpoint of the other kind of service: 404, pointing to this one's."""
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        message = (
            f"{self.spec.deployment} is a {self.kind}: POST {self.endpoint}, not {request.url.path}"
        )
        out = error_body("not-found", message, request_id)
        return Response(out, 404, {"x-request-id": request_id}, _JSON)

    # -- health and metadata ------------------------------------------------------------

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
            **self.served(),
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

    async def metrics(self) -> Response:
        """Prometheus text format, built from counters the request path keeps anyway
        (:mod:`alignops.runtime.metrics`): scraping costs the requests nothing."""
        from alignops.runtime.metrics import render

        text, content_type = render(self)
        return Response(text, 200, None, content_type)

    async def metadata(self) -> Response:
        body = {
            "kind": self.kind,
            "deployment": self.spec.deployment,
            "environment": self.spec.environment,
            "revision": self.spec.revision,
            "limits": {
                "memoryMb": self.spec.memory_mb,
                "concurrency": self.spec.concurrency,
                "timeoutSeconds": self.spec.timeout_seconds,
            },
            **self.described(),
        }
        return Response(json.dumps(body).encode(), 200, None, _JSON)

"""A paced HTTP/1.1 load generator light enough to hold 1,000 requests/s on one core.

httpx's AsyncClient tops out near 300 requests/s on this 2-core machine (it spends about
3 ms of CPU per request), so the load test would measure the client. This one keeps
keep-alive connections, writes pre-encoded requests and parses responses with httptools
(the C parser uvicorn uses), on uvloop. Open loop: request ``i`` is due at
``start + i / rate``; it goes out on the first idle connection, and every request's
status is kept by its request id.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httptools
import uvloop

__all__ = ["LoadResult", "paced_load"]


@dataclass
class LoadResult:
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    late: int = 0  # requests sent more than 50 ms after they were due

    @property
    def rate(self) -> float:
        return len(self.statuses) / self.seconds if self.seconds else 0.0


class _Connection(asyncio.Protocol):
    def __init__(self, done: Callable[[_Connection, int], None]) -> None:
        self._done = done
        self._parser = httptools.HttpResponseParser(self)
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport
        self.request_id = ""
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def on_message_complete(self) -> None:
        self._done(self, self._parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)

    def send(self, request_id: str, request: bytes) -> None:
        assert self.transport is not None
        self.request_id = request_id
        self.transport.write(request)


def _request(host: str, port: int, path: str, body: bytes, request_id: str) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"X-Request-Id: {request_id}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _run(
    host: str, port: int, path: str, bodies: list[bytes], rate: float, connections: int
) -> LoadResult:
    loop = asyncio.get_running_loop()
    result = LoadResult()
    idle: collections.deque[_Connection] = collections.deque()
    outstanding = 0
    finished = loop.create_future()
    total = len(bodies)

    def done(conn: _Connection, status: int) -> None:
        nonlocal outstanding
        result.statuses[conn.request_id] = status
        outstanding -= 1
        idle.append(conn)
        if len(result.statuses) == total and not finished.done():
            finished.set_result(None)

    conns = []
    for _ in range(connections):
        _, conn = await loop.create_connection(lambda: _Connection(done), host, port)
        conns.append(conn)
        idle.append(conn)
    started = time.perf_counter()
    sent = 0
    while sent < total:
        now = time.perf_counter()
        due = min(total, int((now - started) * rate) + 1)
        while sent < due and idle:
            if now - (started + sent / rate) > 0.05:
                result.late += 1
            request_id = f"load-{sent:06d}"
            idle.popleft().send(request_id, _request(host, port, path, bodies[sent], request_id))
            outstanding += 1
            sent += 1
        await asyncio.sleep(0.001)
    try:
        await asyncio.wait_for(finished, 60)
    except TimeoutError:
        result.errors.append(f"{total - len(result.statuses)} requests got no answer in 60 s")
    result.seconds = time.perf_counter() - started
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    lost = sum(1 for c in conns if c.lost.done() and c.request_id not in result.statuses)
    if lost:
        result.errors.append(f"{lost} connections closed with a request outstanding")
    return result


def paced_load(
    url_host: str,
    port: int,
    path: str,
    bodies: list[bytes],
    *,
    rate: float,
    connections: int = 64,
) -> LoadResult:
    """Send ``bodies`` (request ids ``load-000000``, ...) at ``rate`` per second."""
    return uvloop.run(_run(url_host, port, path, bodies, rate, connections))

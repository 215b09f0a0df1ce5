"""The activator: scale to zero, and start again on the next request.

A deployment with ``minScale: 0`` has no process while nobody calls it. Its address is
the activator's — ``http://HOST:PORT/<environment>/<deployment>/predict`` — one process
per runtime folder that holds a *route* per such deployment and, per route, at most one
warm service process (a *backend*):

- a request for a route without a live backend of the route's settings *cold-starts*
  one (forked by the launcher when one runs, else a new process), waits for its
  ``/health``, then forwards the request; concurrent requests wait for the same start;
- requests are forwarded as they are (method, path below the route, body, headers) and
  the answer comes back as the backend gave it;
- a backend that served nothing for the route's ``idleTimeoutSeconds`` is stopped with
  SIGTERM (it finishes what it serves and writes its telemetry): *scaled to zero*;
- a backend whose route changed or went away is stopped; a changed route's next start
  runs the new settings.

Every cold start is appended to ``coldstarts.jsonl`` (time, service, revision, duration in
ms) and counted in ``GET /-/status``. The request that waited for a cold
start carries ``X-Alignops-Cold-Start: <ms>`` to the backend, which marks it cold in the
telemetry.

Routes are files the local provider writes (``routes/<environment>/<deployment>.json``:
service, fingerprint, revision, idle timeout, and the :class:`ServiceSpec` document
without host and port); the activator reads them when asked, never the config repository
or the database. Control endpoints, for the provider: ``GET /-/status``,
``POST /-/check`` with a route document (start its settings once, wait for ``/health``,
stop: how a deploy proves a version boots before it is routed), ``POST /-/reload``
(re-read routes now).

``python -m alignops.runtime.activator --root RUNTIME_FOLDER --host H --port P``; decision
0027.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from alignops.runtime import processes
from alignops.runtime.files import log_tail, write_atomic
from alignops.runtime.launcher import Launcher, exit_status
from alignops.runtime.serve import run_http
from alignops.runtime.spec import ServiceSpec

__all__ = ["ActivatorState", "Route", "main", "route_path"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

COLD_START_HEADER = "x-alignops-cold-start"
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
_HOUSEKEEPING_SECONDS = 1.0
_START_ATTEMPTS = 3
_EXIT_CANNOT_BIND = 1


def route_path(root: Path, environment: str, deployment: str) -> Path:
    return root / "routes" / environment / f"{deployment}.json"


@dataclass(frozen=True)
class Route:
    """One scaled-to-zero deployment, as the provider declared it."""

    service: str
    environment: str
    deployment: str
    fingerprint: str
    revision: str
    idle_timeout_seconds: float
    start_timeout_seconds: float
    stop_grace_seconds: float
    spec: dict[str, Any]
    """The :class:`ServiceSpec` document without ``host``, ``port`` and ``startedAt``."""

    @classmethod
    def from_file(cls, path: Path) -> Route:
        return cls.from_json(path.read_bytes())

    @classmethod
    def from_json(cls, text: bytes) -> Route:
        data = json.loads(text)
        return cls(
            service=data["service"],
            environment=data["environment"],
            deployment=data["deployment"],
            fingerprint=data["fingerprint"],
            revision=data["revision"],
            idle_timeout_seconds=float(data["idleTimeoutSeconds"]),
            start_timeout_seconds=float(data.get("startTimeoutSeconds", 60)),
            stop_grace_seconds=float(data.get("stopGraceSeconds", 40)),
            spec=dict(data["spec"]),
        )

    def to_json(self) -> bytes:
        document = {
            "service": self.service,
            "environment": self.environment,
            "deployment": self.deployment,
            "fingerprint": self.fingerprint,
            "revision": self.revision,
            "idleTimeoutSeconds": self.idle_timeout_seconds,
            "startTimeoutSeconds": self.start_timeout_seconds,
            "stopGraceSeconds": self.stop_grace_seconds,
            "spec": self.spec,
        }
        return json.dumps(document, indent=2, sort_keys=True).encode()


@dataclass
class Backend:
    """A warm service process behind a route."""

    route: Route
    pid: int
    start: str | None
    port: int
    url: str
    spec_path: Path
    since: float = field(default_factory=time.time)
    last_request: float = field(default_factory=time.monotonic)
    in_flight: int = 0

    def alive(self) -> bool:
        return processes.owns(self.pid, self.start, str(self.spec_path))

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.route.service,
            "environment": self.route.environment,
            "pid": self.pid,
            "url": self.url,
            "fingerprint": self.route.fingerprint,
            "revision": self.route.revision,
            "since": datetime.fromtimestamp(self.since, UTC).isoformat(timespec="seconds"),
            "idleSeconds": round(time.monotonic() - self.last_request, 1),
            "inFlight": self.in_flight,
        }


class StartFailed(Exception):
    """A backend did not become healthy; the message says why (with its last log lines)."""


@dataclass
class ColdStarts:
    """Counts and the last duration per service, from ``coldstarts.jsonl``."""

    path: Path
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def load(self) -> None:
        with contextlib.suppress(OSError):
            for line in self.path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError, KeyError):
                    self._count(json.loads(line))

    def _count(self, event: dict[str, Any]) -> None:
        key = f"{event['environment']}/{event['service']}"
        entry = self.counts.setdefault(key, {"count": 0})
        entry.update(count=entry["count"] + 1, lastMs=event["ms"], lastAt=event["time"])

    def add(self, route: Route, ms: float, pid: int) -> None:
        event = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "environment": route.environment,
            "service": route.service,
            "revision": route.revision,
            "fingerprint": route.fingerprint,
            "ms": round(ms, 1),
            "pid": pid,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(event) + "\n")
        self._count(event)


class ActivatorState:
    """Routes, backends and cold starts of one runtime folder."""

    def __init__(self, root: Path, host: str) -> None:
        self.root = root
        self.host = host
        self.backends: dict[tuple[str, str], Backend] = {}
        self.locks: dict[tuple[str, str], asyncio.Lock] = {}
        self.cold_starts = ColdStarts(root / "coldstarts.jsonl")
        self.cold_starts.load()
        self.launcher = Launcher(root)
        self.client = httpx.AsyncClient(timeout=None, limits=httpx.Limits(max_connections=1000))
        self.routes: dict[tuple[str, str], tuple[int, Route]] = {}

    # -- routes -------------------------------------------------------------------------

    def route(self, environment: str, deployment: str) -> Route | None:
        path = route_path(self.root, environment, deployment)
        key = (environment, deployment)
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            self.routes.pop(key, None)
            return None
        cached = self.routes.get(key)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        try:
            route = Route.from_file(path)
        except (OSError, ValueError, KeyError):
            return None
        self.routes[key] = (mtime, route)
        return route

    # -- backends -----------------------------------------------------------------------

    async def ensure(self, environment: str, deployment: str) -> tuple[Backend, float]:
        """A live backend of the route's settings, started if needed; (backend, ms waited
        for a cold start, 0 when it was warm)."""
        key = (environment, deployment)
        lock = self.locks.setdefault(key, asyncio.Lock())
        async with lock:
            route = self.route(environment, deployment)
            if route is None:
                raise LookupError(f"no route for {environment}/{deployment}")
            current = self.backends.get(key)
            if current is not None and current.route.fingerprint == route.fingerprint:
                if current.alive():
                    return current, 0.0
                self.backends.pop(key, None)
                current = None
            began = time.monotonic()
            backend = await self._start(route)
            ms = (time.monotonic() - began) * 1000
            self.backends[key] = backend
            self.cold_starts.add(route, ms, backend.pid)
            if current is not None:  # the route changed: the new one serves, stop the old
                asyncio.get_running_loop().create_task(self._stop(current))
            return backend, ms

    async def check(self, route: Route) -> float:
        """Start ``route``'s settings once, wait until healthy, stop: how a deploy proves a
        version boots before it is routed. The milliseconds the start took."""
        began = time.monotonic()
        backend = await self._start(route)
        ms = (time.monotonic() - began) * 1000
        await self._stop(backend)
        return ms

    async def _start(self, route: Route) -> Backend:
        folder = self.root / "activator" / route.environment / route.deployment
        last = ""
        for _ in range(_START_ATTEMPTS):
            port = processes.free_port(self.host)
            spec_path = folder / f"{uuid.uuid4().hex}.json"
            document = {
                **route.spec,
                "host": self.host,
                "port": port,
                "startedAt": datetime.now(UTC).isoformat(),
            }
            spec = ServiceSpec.model_validate(document)
            write_atomic(spec_path, spec.model_dump_json(indent=2).encode())
            log = spec_path.with_suffix(".log")
            pid = await asyncio.to_thread(
                self.launcher.start_service, spec_path, log=log, cwd=self.root
            )
            info = processes.inspect(pid)
            url = (
                f"http://[{self.host}]:{port}" if ":" in self.host else f"http://{self.host}:{port}"
            )
            backend = Backend(route, pid, info.start if info else None, port, url, spec_path)
            failure, code = await self._wait_healthy(backend, route.start_timeout_seconds)
            if failure is None:
                return backend
            last = f"{route.service} did not start: it {failure}.{log_tail(log)}"
            if backend.alive():
                await self._stop(backend)
            else:
                _forget(spec_path)
            if code != _EXIT_CANNOT_BIND:
                break
        raise StartFailed(last)

    async def _wait_healthy(
        self, backend: Backend, timeout: float
    ) -> tuple[str | None, int | None]:
        deadline = time.monotonic() + timeout
        while True:
            code = processes.reap(backend.pid)
            if code is None and not backend.alive():
                await asyncio.sleep(0.3)  # the launcher writes the status once it reaps
                code = exit_status(backend.spec_path)
                return f"exited with status {code if code is not None else 'unknown'}", code
            if code is not None:
                return f"exited with status {code}", code
            try:
                response = await self.client.get(f"{backend.url}/health", timeout=1.0)
                if response.status_code == 200 and response.json().get("status") == "ok":
                    return None, None
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() >= deadline:
                return f"was not healthy within {timeout:g} s", None
            await asyncio.sleep(0.02)

    async def _stop(self, backend: Backend) -> None:
        grace = backend.route.stop_grace_seconds
        await asyncio.to_thread(
            processes.stop, backend.pid, backend.start, str(backend.spec_path), grace=grace
        )
        _forget(backend.spec_path)

    async def housekeeping(self) -> None:
        """Scale idle backends to zero; stop those whose route changed or went away."""
        now = time.monotonic()
        for key, backend in list(self.backends.items()):
            route = self.route(*key)
            idle = now - backend.last_request
            stale = route is None or route.fingerprint != backend.route.fingerprint
            gone = not backend.alive()
            if gone or (
                backend.in_flight == 0 and (stale or idle > backend.route.idle_timeout_seconds)
            ):
                lock = self.locks.setdefault(key, asyncio.Lock())
                if lock.locked():
                    continue
                async with lock:
                    if self.backends.get(key) is backend:
                        del self.backends[key]
                if gone:
                    processes.reap(backend.pid)
                    _forget(backend.spec_path)
                else:
                    await self._stop(backend)

    async def stop_all(self) -> None:
        await asyncio.gather(*(self._stop(b) for b in self.backends.values()))
        self.backends.clear()
        await self.client.aclose()

    def status(self) -> dict[str, Any]:
        routes = []
        for folder in sorted((self.root / "routes").glob("*")):
            for path in sorted(folder.glob("*.json")):
                route = self.route(folder.name, path.stem)
                if route is None:
                    continue
                backend = self.backends.get((folder.name, path.stem))
                key = f"{route.environment}/{route.service}"
                routes.append(
                    {
                        "service": route.service,
                        "environment": route.environment,
                        "path": f"/{route.environment}/{route.deployment}",
                        "fingerprint": route.fingerprint,
                        "revision": route.revision,
                        "state": "warm" if backend is not None else "scaled to zero",
                        "backend": backend.to_dict() if backend is not None else None,
                        "coldStarts": self.cold_starts.counts.get(key, {"count": 0}),
                    }
                )
        return {"routes": routes}


def _forget(spec_path: Path) -> None:
    spec_path.unlink(missing_ok=True)
    spec_path.with_suffix(".exit").unlink(missing_ok=True)
    spec_path.with_suffix(".log").unlink(missing_ok=True)


# -- the HTTP side ------------------------------------------------------------------------


class Activator:
    """The ASGI application: control endpoints under ``/-/``, everything else forwarded."""

    def __init__(self, state: ActivatorState) -> None:
        self.state = state
        self._housekeeper: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith("/-/"):
            await self._control(scope, receive, send, path[3:])
            return
        parts = path.lstrip("/").split("/", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            await _json(
                send, 404, {"error": "not_found", "message": "use /<environment>/<deployment>/…"}
            )
            return
        environment, deployment = parts[0], parts[1]
        rest = "/" + (parts[2] if len(parts) == 3 else "")
        await self._forward(scope, receive, send, environment, deployment, rest)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._housekeeper = asyncio.get_running_loop().create_task(self._housekeep())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._housekeeper is not None:
                    self._housekeeper.cancel()
                await self.state.stop_all()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _housekeep(self) -> None:
        while True:
            await asyncio.sleep(_HOUSEKEEPING_SECONDS)
            if not self.state.root.is_dir():  # its state folder was deleted: nothing to serve
                print("alignops activator: the runtime folder is gone; exiting", file=sys.stderr)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            try:
                await self.state.housekeeping()
            except Exception as exc:  # noqa: BLE001 - keep scaling down whatever happens
                print(f"alignops activator: housekeeping: {exc!r}", file=sys.stderr, flush=True)

    async def _control(self, scope: Scope, receive: Receive, send: Send, what: str) -> None:
        method = scope["method"]
        if what == "health" and method == "GET":
            await _json(send, 200, {"status": "ok", "backends": len(self.state.backends)})
        elif what == "status" and method == "GET":
            await _json(send, 200, self.state.status())
        elif what == "reload" and method == "POST":
            await self.state.housekeeping()
            await _json(send, 200, {"status": "ok"})
        elif what == "check" and method == "POST":
            try:
                route = Route.from_json(await _body(receive))
            except (ValueError, KeyError, TypeError) as exc:
                await _json(send, 400, {"error": "bad_route", "message": repr(exc)})
                return
            try:
                ms = await self.state.check(route)
            except StartFailed as exc:
                await _json(send, 503, {"error": "start_failed", "message": str(exc)})
                return
            await _json(send, 200, {"startMs": round(ms, 1)})
        else:
            await _json(send, 404, {"error": "not_found", "message": f"no control endpoint {what}"})

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        environment: str,
        deployment: str,
        rest: str,
    ) -> None:
        body = await _body(receive)
        try:
            backend, ms = await self.state.ensure(environment, deployment)
        except LookupError:
            await _json(
                send,
                404,
                {
                    "error": "no_route",
                    "message": f"no deployment {deployment} in {environment} scales to zero here",
                },
            )
            return
        except StartFailed as exc:
            await _json(send, 503, {"error": "start_failed", "message": str(exc)})
            return
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.decode("latin-1").lower() not in _HOP_BY_HOP
        ]
        if ms:
            headers.append((COLD_START_HEADER, f"{ms:.1f}"))
        query = scope.get("query_string", b"").decode("latin-1")
        url = backend.url + rest + (f"?{query}" if query else "")
        backend.in_flight += 1
        backend.last_request = time.monotonic()
        try:
            response = await self.state.client.request(
                scope["method"], url, headers=headers, content=body
            )
        except httpx.HTTPError as exc:
            await _json(
                send, 502, {"error": "backend_error", "message": f"{type(exc).__name__}: {exc}"}
            )
            return
        finally:
            backend.in_flight -= 1
            backend.last_request = time.monotonic()
        out = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in response.headers.items()
            if k.lower() not in _HOP_BY_HOP
        ]
        if ms:
            out.append((COLD_START_HEADER.encode(), f"{ms:.1f}".encode()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})
        await send({"type": "http.response.body", "body": response.content})


async def _body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


async def _json(send: Send, status: int, document: dict[str, Any]) -> None:
    body = json.dumps(document).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _stop_leftovers(root: Path) -> None:
    """Backends of an activator that was killed: stop them (they start again on demand)."""
    marker = f"--spec {root / 'activator'}/"
    for info in processes.find(marker):
        processes.stop(info.pid, info.start, marker, grace=10.0)


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m alignops.runtime.activator",
        description="Scale-to-zero front door of the local runtime.",
    )
    parser.add_argument("--root", type=Path, required=True, help="the runtime folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    _stop_leftovers(root)
    state = ActivatorState(root, args.host)
    print(
        f"alignops activator: {root} on http://{args.host}:{args.port}", file=sys.stderr, flush=True
    )
    # On SIGTERM uvicorn stops gracefully; the lifespan stops every backend.
    sys.exit(run_http(Activator(state), args.host, args.port, graceful_seconds=60))


if __name__ == "__main__":
    main()

"""Scale to zero for the ``local`` provider: routes on the activator of this machine.

A service with ``minScale: 0`` (and every ``ServerlessFunction``) is not a process the
provider starts: it is a *route* file the activator (:mod:`alignops.runtime.activator`)
reads, and the activator starts a process on the first request and stops it when idle.
This module is the provider's side of that:

- :meth:`Activations.ensure_activator` — the activator of the runtime folder runs and
  answers (started detached if not; recorded in ``runtime/activator.json`` with pid,
  process start time and port, so a restart keeps the same address when it can);
- :meth:`Activations.put` — have the activator start the new settings once and stop
  them (``/-/check``), then write the route: a deploy proves the new version boots, and
  if it does not, the previous route stays what the next request starts;
- :meth:`Activations.remove` — remove a route; the activator stops its process;
- :meth:`Activations.routes` / :meth:`Activations.status` — what is routed, and how it is
  (warm or scaled to zero, cold starts).

Decision 0027.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignops.errors import PermanentError, ProviderError
from alignops.reconcile.providers.instances import http_json
from alignops.runtime import processes
from alignops.runtime.activator import Route, route_path
from alignops.runtime.files import log_tail, write_atomic

__all__ = ["Activations", "ActivatorRecord"]

_MARKER = "-m alignops.runtime.activator --root"


@dataclass(frozen=True)
class ActivatorRecord:
    pid: int
    start: str | None
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class Activations:
    """Routes of one runtime folder and the activator that serves them."""

    def __init__(self, root: Path, host: str, port: int, start_timeout: float) -> None:
        self.root = root
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self.record_path = root / "activator.json"
        self._routes: dict[str, dict[str, tuple[Route, dict[str, Any]]]] = {}
        """Environment → its routes, read once: only :meth:`put` and :meth:`remove` change
        them while the provider holds the machine lock."""
        self._booted: dict[str, dict[str, Any]] = {}
        """Boot identity → what the boot check reported (see :func:`boot_identity`)."""

    # -- the activator process ----------------------------------------------------------

    def record(self) -> ActivatorRecord | None:
        """The activator that runs now, if any."""
        try:
            data = json.loads(self.record_path.read_text(encoding="utf-8"))
            record = ActivatorRecord(data["pid"], data["start"], data["host"], int(data["port"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        marker = f"{_MARKER} {self.root.resolve()} "
        return record if processes.owns(record.pid, record.start, marker) else None

    def ensure_activator(self) -> ActivatorRecord:
        """The running activator, started if none runs."""
        record = self.record()
        if record is not None:
            return record
        previous = _previous_port(self.record_path)
        port = self.port or previous or 0
        if not port or not _port_free(self.host, port):
            if self.port:
                raise ProviderError(
                    f"the activator's port {self.host}:{self.port} (activatorPort) is taken"
                )
            port = processes.free_port(self.host)
        argv = [
            sys.executable,
            "-m",
            "alignops.runtime.activator",
            "--root",
            str(self.root.resolve()),
            "--host",
            self.host,
            "--port",
            str(port),
        ]
        self.root.mkdir(parents=True, exist_ok=True)
        process = processes.spawn(argv, log=self.root / "activator.log", cwd=self.root)
        info = processes.inspect(process.pid)
        record = ActivatorRecord(process.pid, info.start if info else None, self.host, port)
        document = {"pid": record.pid, "start": record.start, "host": self.host, "port": port}
        write_atomic(self.record_path, json.dumps(document).encode())
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            code = processes.reap(process.pid)
            if code is not None:
                log = log_tail(self.root / "activator.log")
                raise ProviderError(f"the activator exited with status {code}{log}")
            status, _, _ = http_json(self.host, port, "/-/health", 1.0)
            if status == 200:
                return record
            time.sleep(0.05)
        raise ProviderError(f"the activator did not answer within {self.start_timeout:g} s")

    def stop_activator(self) -> None:
        record = self.record()
        if record is not None:
            processes.stop(record.pid, record.start, _MARKER, grace=30.0)

    # -- routes -------------------------------------------------------------------------

    def routes(self, environment: str) -> dict[str, tuple[Route, dict[str, Any]]]:
        """Service → (route, its settings) of ``environment``."""
        cached = self._routes.get(environment)
        if cached is not None:
            return dict(cached)
        out: dict[str, tuple[Route, dict[str, Any]]] = {}
        for path in sorted((self.root / "routes" / environment).glob("*.json")):
            with contextlib.suppress(OSError, ValueError, KeyError):
                data = path.read_bytes()
                route = Route.from_json(data)
                out[route.service] = (route, json.loads(data).get("settings", {}))
        self._routes[environment] = out
        return dict(out)

    def url(self, record: ActivatorRecord, route: Route) -> str:
        return f"{record.url}/{route.environment}/{route.deployment}"

    def put(self, route: Route, settings: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Start ``route`` once to prove it boots, then route it; (its URL, what the start
        reported). If it does not boot, the previous route stays."""
        record = self.ensure_activator()
        identity = boot_identity(route)
        proved = self._booted.get(identity)
        status: int | None
        body: Any
        error: str | None
        if proved is not None:
            status, body, error = 200, dict(proved), None
        else:
            timeout = route.start_timeout_seconds + 10
            status, body, error = http_json(
                record.host, record.port, "/-/check", timeout, method="POST", body=route.to_json()
            )
        if status == 200 and isinstance(body, dict):
            self._booted.setdefault(identity, {**body, "provedBy": route.service})
            document = json.loads(route.to_json())
            document["settings"] = settings
            path = route_path(self.root, route.environment, route.deployment)
            write_atomic(path, json.dumps(document, indent=2, sort_keys=True).encode())
            self.routes(route.environment)
            self._routes[route.environment][route.service] = (route, settings)
            http_json(record.host, record.port, "/-/reload", 60.0, method="POST")
            return self.url(record, route), body
        message = body.get("message") if isinstance(body, dict) else error
        if status == 503:
            raise PermanentError(
                f"{route.service}: the new version did not start, so it is not routed; the "
                f"previous version (if any) keeps serving. {message}"
            )
        raise ProviderError(f"{route.service}: the activator did not answer: {message}")

    def remove(self, environment: str, deployment: str) -> bool:
        """Unroute a deployment; True if it was routed."""
        path = route_path(self.root, environment, deployment)
        if not path.exists():
            return False
        path.unlink()
        self._routes.pop(environment, None)
        record = self.record()
        if record is not None:
            http_json(record.host, record.port, "/-/reload", 60.0, method="POST")
        return True

    def status(self) -> dict[tuple[str, str], dict[str, Any]] | None:
        """(environment, service) → what the activator reports; None if it is not running."""
        record = self.record()
        if record is None:
            return None
        status, body, _ = http_json(record.host, record.port, "/-/status", 10.0)
        if status != 200 or not isinstance(body, dict):
            return None
        return {(r["environment"], r["service"]): r for r in body.get("routes", [])}


_IDENTITY_FREE = ("deployment", "environment", "revision", "telemetry")
"""Spec fields that name a service or where it writes, not what it boots."""


def boot_identity(route: Route) -> str:
    """What a boot check proves: the service spec without the fields that only name the
    deployment. Two routes with the same identity load the same model files (their paths
    are content-addressed) or handler code with the same limits, so one boot check in a
    sync proves both (1,000 deployments of one model: one start, not 1,000)."""
    spec = {k: v for k, v in route.spec.items() if k not in _IDENTITY_FREE}
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _previous_port(path: Path) -> int | None:
    try:
        return int(json.loads(path.read_text(encoding="utf-8"))["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _port_free(host: str, port: int) -> bool:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True

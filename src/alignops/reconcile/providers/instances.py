"""One recorded service process of the ``local`` provider, and how its health is judged.

:func:`judge` is pure: it turns what ``GET /health`` returned into a :class:`Health`, so
the rules are tested without a process. A service is healthy when it answers 200 with
``status: ok``, from the pid that was recorded (not some other process that took the
port), serving exactly the model versions and digests that were applied.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alignops.reconcile.providers.base import Health

__all__ = ["Instance", "http_json", "judge"]


@dataclass(frozen=True, eq=False)
class Instance:
    """A row of the ``services`` table."""

    id: int
    instance: str
    name: str
    state: str
    pid: int | None
    process_start: str | None
    port: int
    url: str
    fingerprint: str
    revision: str
    settings: dict[str, Any]
    spec_path: str
    started_at: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Instance:
        settings = row["settings"]
        return cls(
            id=row["id"],
            instance=row["instance"],
            name=row["name"],
            state=row["state"],
            pid=row["pid"],
            process_start=row["process_start"],
            port=row["port"],
            url=row["url"],
            fingerprint=row["fingerprint"],
            revision=row["revision"],
            settings=json.loads(settings) if isinstance(settings, str) else dict(settings),
            spec_path=row["spec_path"],
            started_at=row["started_at"],
        )

    def details(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "port": self.port,
            "url": self.url,
            "startedAt": self.started_at,
            "instance": self.instance,
            "revision": self.revision,
            "spec": self.spec_path,
        }

    def expected_models(self) -> list[tuple[str, str, str]]:
        return sorted(
            (m["name"], m["version"], m["sha256"]) for m in self.settings.get("models", [])
        )


def http_json(
    host: str,
    port: int,
    path: str,
    timeout: float,
    *,
    method: str = "GET",
    body: bytes | None = None,
) -> tuple[int | None, Any, str | None]:
    """(status, parsed body, None), or (None, None, error) if nothing answered."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        headers = {"accept": "application/json", "content-type": "application/json"}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as exc:
        return None, None, str(exc) or type(exc).__name__
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw), None
    except ValueError:
        return response.status, None, None


def judge(instance: Instance, status: int | None, body: Any, error: str | None) -> Health:
    """The health of ``instance`` from its ``/health`` answer (see the module docstring)."""
    if status is None:
        return Health(False, f"not answering on {instance.url}: {error}")
    if not isinstance(body, dict):
        return Health(False, f"{instance.url}/health answered {status} without a JSON object")
    if body.get("pid") != instance.pid:
        return Health(
            False,
            f"{instance.url} is answered by pid {body.get('pid')}, not by the service's "
            f"pid {instance.pid}",
        )
    details = {
        "pid": instance.pid,
        "url": instance.url,
        "status": body.get("status"),
        "memory": body.get("memory"),
        "requests": body.get("requests"),
        "inFlight": body.get("inFlight"),
        "models": body.get("models"),
        "telemetry": body.get("telemetry"),
    }
    if status != 200 or body.get("status") != "ok":
        return Health(False, f"/health says {body.get('status')!r} (HTTP {status})", details)
    served = sorted(
        (str(m.get("name")), str(m.get("version")), str(m.get("sha256")))
        for m in body.get("models") or []
        if isinstance(m, dict)
    )
    if served != instance.expected_models():
        return Health(False, "serves other model versions than were applied", details)
    return Health(True, "ok", details)

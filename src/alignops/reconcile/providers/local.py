"""The ``local`` provider: each service a ``python -m alignops.runtime`` process here.

Layout under the state folder (``.alignops/`` of the config repository)::

    runtime/models/<sha256>                     model files, content-addressed, verified
    runtime/services/<env>/<service>/<id>.json  the spec a process was started with
    runtime/services/<env>/<service>/<id>.log   its stdout and stderr
    runtime/lock                                held by a sync (of any local target)
    telemetry/<deployment>/*.parquet            request records (written by the runtime)

Every process is a row of the ``services`` table (an *instance*): ``starting`` while it
loads, ``serving`` once healthy, ``stopping`` while it is stopped. A process is the
service only while :func:`~alignops.runtime.processes.owns` says so (pid,
start time and spec path all match): a killed or crashed service is simply not live,
and the next sync creates it again.

An update starts the new process next to the old one and stops the old one only once
the new one answers ``/health`` for the expected models; if it never does, it is
stopped and the old one keeps serving (decision 0018). Applying what already runs is a
no-op, and so is a second apply after an interrupted one: a healthy instance of the
desired settings is adopted instead of starting another (decision 0018). Where
this state lives: decision 0019.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError
from sqlalchemy import delete, insert, select, update

from alignops.errors import PermanentError, ProviderError
from alignops.evidence.artifacts import artifact_store
from alignops.manifests.base import Spec
from alignops.manifests.config import Target
from alignops.manifests.snapshot import Snapshot
from alignops.reconcile.desired import DesiredModel, DesiredService
from alignops.reconcile.plan import Action, LiveService
from alignops.reconcile.providers.activation import Activations
from alignops.reconcile.providers.base import (
    Applied,
    ApplyContext,
    Health,
    Provider,
    ProviderContext,
    parse_settings,
    register,
)
from alignops.reconcile.providers.instances import Instance, http_json, judge
from alignops.runtime import processes
from alignops.runtime.activator import Route
from alignops.runtime.files import log_tail, write_atomic
from alignops.runtime.launcher import Launcher, exit_status
from alignops.runtime.spec import ServiceSpec
from alignops.store.schema import services

__all__ = ["LocalProvider", "LocalSettings"]

_EXIT_REFUSED = 2  # the runtime refused the spec or a model (alignops.runtime.serve)
_EXIT_CANNOT_BIND = 1
_START_ATTEMPTS = 3
_LOGS_KEPT = 5


class LocalSettings(Spec):
    """``settings`` of a target with ``provider: local``."""

    host: Literal["127.0.0.1", "::1"] = Field(
        default="127.0.0.1", description="loopback address services listen on"
    )
    start_timeout_seconds: float = Field(
        default=60, gt=0, le=600, description="how long a new process may take to be healthy"
    )
    stop_timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=600,
        description="after SIGTERM, how long beyond the service's request timeout to wait "
        "before SIGKILL",
    )
    telemetry_flush_seconds: float = Field(default=5.0, gt=0, le=300)
    activator_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="port of the activator that serves scaled-to-zero services; 0: one is "
        "picked and kept across restarts while it is free",
    )


@register("local", settings=LocalSettings)
class LocalProvider(Provider):
    """Services as processes on this machine (see the module docstring)."""

    def __init__(self, target: Target, context: ProviderContext) -> None:
        super().__init__(target, context)
        self.settings: LocalSettings = parse_settings(target, LocalSettings)
        self.root = context.state_dir / "runtime"
        self.telemetry = context.state_dir / "telemetry"
        self.machine = socket.gethostname()
        self.db = context.database
        self.launcher = Launcher(self.root)
        self.activations = Activations(
            self.root,
            self.settings.host,
            self.settings.activator_port,
            self.settings.start_timeout_seconds,
        )

    # -- the contract -------------------------------------------------------------------

    def supports(self, service: DesiredService) -> str | None:
        for model in service.models:
            if model.format == "mlflow":
                return (
                    f"not supported by the local provider yet: {model.name} is an MLflow "
                    "model folder; the runtime serves skops, pickle and joblib files"
                )
        return None

    @contextlib.contextmanager
    def lock(self, environment: str) -> Iterator[None]:
        # One lock for every local target and environment: they share the model folder.
        with _machine_lock(self.root, self.context.progress):
            yield

    def live(self, environment: str) -> dict[str, LiveService]:
        out: dict[str, LiveService] = {}
        for instance in self._instances(environment):
            if instance.state == "serving" and self._alive(instance):
                out[instance.name] = LiveService(
                    instance.name,
                    instance.fingerprint,
                    instance.revision,
                    instance.settings,
                    details=instance.details(),
                )
        record = self.activations.record()
        if record is not None:
            for name, (route, settings) in self.activations.routes(environment).items():
                if name not in out:
                    details = {"url": self.activations.url(record, route), "scaleToZero": True}
                    out[name] = LiveService(
                        name, route.fingerprint, route.revision, settings, details=details
                    )
        return dict(sorted(out.items()))

    def apply(self, action: Action, context: ApplyContext) -> Applied:
        desired = action.desired
        if desired is None or action.verb == "delete":
            raise PermanentError(f"{action.name}: nothing to apply for a {action.verb}")
        reason = self.supports(desired)
        if reason is not None:
            raise PermanentError(f"{desired.name}: {reason}")
        environment = context.environment
        if desired.min_scale == 0:
            return self._route(action, desired, context)
        instances = self._instances(environment, desired.name)
        alive = [i for i in instances if self._alive(i)]
        for instance in reversed(alive):  # newest first
            if instance.fingerprint == desired.fingerprint and instance.state != "stopping":
                health = self._probe(instance)
                if health.ok:
                    return self._adopt(action, instance, instances)
        for instance in instances:
            if instance not in alive:
                self._forget(instance)
        new = self._start(desired, context)
        replaced = [self._stop(i) for i in alive]
        if self.activations.remove(environment, _deployment(desired.name)):
            replaced.append("its scale-to-zero route")
        message = f"serving on {new.url} (pid {new.pid})"
        if replaced:
            message += "; stopped " + ", ".join(replaced)
        return Applied(action.verb, desired.name, True, message, new.details())

    def _route(self, action: Action, desired: DesiredService, context: ApplyContext) -> Applied:
        """A scale-to-zero service: a route on the activator, started once to prove it
        boots; any always-on process of it is stopped afterwards."""
        environment = context.environment
        record = self.activations.record()
        current = self.activations.routes(environment).get(desired.name)
        instances = self._instances(environment, desired.name)
        if record is not None and current is not None and not instances:
            route, _ = current
            if route.fingerprint == desired.fingerprint:
                url = self.activations.url(record, route)
                return Applied(action.verb, desired.name, False, f"routed at {url}")
        routed = self.activations.routes(environment)
        clash = next(
            (
                n
                for n in routed
                if n != desired.name and _deployment(n) == _deployment(desired.name)
            ),
            None,
        )
        if clash is not None:
            raise PermanentError(
                f"{desired.name}: {clash} already scales to zero under the name "
                f"{_deployment(desired.name)!r} in {environment}; rename one of them"
            )
        paths = [self._materialize(context.snapshot, m, desired) for m in desired.models]
        code = self._code(context.snapshot) if desired.handler else None
        spec = _service_spec(desired, environment, self.settings.host, 1, paths, None, self, code)
        document = spec.model_dump(
            mode="json", by_alias=True, exclude={"host", "port", "started_at"}
        )
        route = Route(
            service=desired.name,
            environment=environment,
            deployment=_deployment(desired.name),
            fingerprint=desired.fingerprint,
            revision=desired.revision,
            idle_timeout_seconds=desired.idle_timeout_seconds,
            start_timeout_seconds=self.settings.start_timeout_seconds,
            stop_grace_seconds=desired.timeout_seconds + self.settings.stop_timeout_seconds,
            spec=document,
        )
        self.context.progress(f"{desired.name}: checking it boots, then routing it")
        url, started = self.activations.put(route, desired.settings())
        stopped = [self._stop(i) for i in instances if self._alive(i)]
        for instance in instances:
            if not self._alive(instance):
                self._forget(instance)
        proof = (
            f"started once in {started.get('startMs', 0):.0f} ms to check it boots"
            if started.get("provedBy") in (None, desired.name)
            else f"boots as {started['provedBy']} does (same model and settings)"
        )
        message = f"scales to zero at {url} (idle after {desired.idle_timeout_seconds} s); {proof}"
        if stopped:
            message += "; stopped " + ", ".join(stopped)
        details = {"url": url, "scaleToZero": True, "bootCheckMs": started.get("startMs")}
        return Applied(action.verb, desired.name, True, message, details)

    def delete(self, name: str, environment: str) -> Applied:
        instances = self._instances(environment, name)
        done = [self._stop(i) for i in instances if self._alive(i)]
        for instance in instances:
            if not self._alive(instance):
                self._forget(instance)
        if self.activations.remove(environment, _deployment(name)):
            done.append("its scale-to-zero route")
        message = "stopped " + ", ".join(done) if done else "was not running"
        return Applied("delete", name, bool(done), message)

    def tidy(self, environment: str) -> list[Applied]:
        keep: dict[str, Instance] = {}
        instances = self._instances(environment)
        for instance in instances:
            if instance.state == "serving" and self._alive(instance):
                keep[instance.name] = instance  # the newest wins: rows come oldest first
        done: list[Applied] = []
        for instance in instances:
            if keep.get(instance.name) is instance:
                continue
            if self._alive(instance):
                what = self._stop(instance)
                done.append(Applied("tidy", instance.name, True, f"stopped leftover {what}"))
            else:
                self._forget(instance)
                done.append(
                    Applied(
                        "tidy",
                        instance.name,
                        True,
                        f"forgot {instance.state} instance {instance.instance}: its process "
                        "had exited",
                    )
                )
        self._collect_models()
        return done

    def shutdown(self) -> list[str]:
        """Stop every process of this state folder on this machine — the services of every
        environment and target, the activator (and what it runs) and the launcher — and
        say what was stopped. Nothing is forgotten but the processes: the next sync finds
        the services not running and starts them again."""
        query = select(services).where(services.c.host == self.machine).order_by(services.c.id)
        with self.db.transaction() as conn:
            rows = [Instance.from_row(dict(r._mapping)) for r in conn.execute(query)]
        done = [f"{i.name} {self._stop(i)}" for i in rows if self._alive(i)]
        for instance in rows:
            if not self._alive(instance):
                self._forget(instance)
        if self.activations.record() is not None:
            self.activations.stop_activator()
            done.append("the activator and the services it had started")
        if self.launcher.stop():
            done.append("the launcher")
        return done

    def _collect_models(self) -> None:
        """Remove model files no recorded instance on this machine uses any more."""
        folder = self.root / "models"
        if not folder.is_dir():
            return
        query = select(services.c.settings).where(services.c.host == self.machine)
        with self.db.transaction() as conn:
            used = {
                m["sha256"]
                for (settings,) in conn.execute(query)
                for m in json.loads(settings).get("models", [])
            }
        for routes in (self.root / "routes").glob("*"):
            for _, (_, settings) in self.activations.routes(routes.name).items():
                used.update(m["sha256"] for m in settings.get("models", []))
        for path in folder.iterdir():
            if path.is_file() and not path.name.startswith(".") and path.name not in used:
                path.unlink(missing_ok=True)

    def health(self, environment: str, names: Sequence[str]) -> dict[str, Health]:
        routed = self.activations.routes(environment)
        status = self.activations.status() if any(n in routed for n in names) else None
        instances = self._instances(environment)
        out: dict[str, Health] = {}
        for name in names:
            serving = [
                i for i in instances if i.name == name and i.state == "serving" and self._alive(i)
            ]
            if serving:
                out[name] = self._probe(serving[-1])
            elif name in routed:
                out[name] = _route_health(status, environment, name)
            else:
                out[name] = Health(False, "not running")
        return out

    # -- instances ----------------------------------------------------------------------

    def _instances(self, environment: str, name: str | None = None) -> list[Instance]:
        query = (
            select(services)
            .where(services.c.provider == self.key)
            .where(services.c.target == self.target.name)
            .where(services.c.environment == environment)
            .where(services.c.host == self.machine)
            .order_by(services.c.id)
        )
        if name is not None:
            query = query.where(services.c.name == name)
        with self.db.transaction() as conn:
            return [Instance.from_row(dict(row._mapping)) for row in conn.execute(query)]

    def _set_state(self, instance: Instance, state: str, **values: Any) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                update(services).where(services.c.id == instance.id).values(state=state, **values)
            )

    def _alive(self, instance: Instance) -> bool:
        return processes.owns(instance.pid, instance.process_start, instance.spec_path)

    def _probe(self, instance: Instance, timeout: float = 2.0) -> Health:
        # The address it was started on, whatever the target's host setting says now.
        host = urlsplit(instance.url).hostname or self.settings.host
        status, body, error = http_json(host, instance.port, "/health", timeout)
        return judge(instance, status, body, error)

    def _adopt(self, action: Action, instance: Instance, instances: list[Instance]) -> Applied:
        """The desired settings run already (a repeated or interrupted apply)."""
        promoted = instance.state != "serving"
        if promoted:
            self._set_state(instance, "serving")
        stopped = [self._stop(i) for i in instances if i is not instance and self._alive(i)]
        for other in instances:
            if other is not instance and not self._alive(other):
                self._forget(other)
        message = f"already running on {instance.url} (pid {instance.pid})"
        if stopped:
            message += "; stopped " + ", ".join(stopped)
        changed = promoted or bool(stopped)
        return Applied(action.verb, instance.name, changed, message, instance.details())

    def _stop(self, instance: Instance) -> str:
        """Stop an instance's process and forget it; 'pid N (revision)' for messages."""
        self._set_state(instance, "stopping")
        assert instance.pid is not None
        self.context.progress(f"{instance.name}: stopping pid {instance.pid}")
        request_timeout = float(instance.settings.get("timeout_seconds", 30))
        grace = request_timeout + self.settings.stop_timeout_seconds
        how = processes.stop(instance.pid, instance.process_start, instance.spec_path, grace=grace)
        self._forget(instance)
        return f"pid {instance.pid} ({instance.revision[:12]}, {how})"

    def _forget(self, instance: Instance) -> None:
        if instance.pid is not None:
            processes.reap(instance.pid)
        else:  # interrupted between starting the process and recording its pid
            for info in processes.find(instance.spec_path):
                processes.stop(info.pid, info.start, instance.spec_path, grace=5.0)
        with self.db.transaction() as conn:
            conn.execute(delete(services).where(services.c.id == instance.id))
        spec = Path(instance.spec_path)
        spec.unlink(missing_ok=True)
        _prune_logs(spec.parent)

    # -- starting -----------------------------------------------------------------------

    def _start(self, desired: DesiredService, context: ApplyContext) -> Instance:
        if importlib.util.find_spec("uvicorn") is None:
            raise ProviderError(
                "the local provider needs the runtime extra: pip install 'alignops[runtime]'"
            )
        paths = [self._materialize(context.snapshot, m, desired) for m in desired.models]
        code = self._code(context.snapshot) if desired.handler else None
        folder = self.root / "services" / context.environment / _slug(desired.name)
        folder.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, _START_ATTEMPTS + 1):
            instance = self._launch(desired, context.environment, paths, folder, code)
            failure, status = self._wait_healthy(instance)
            if failure is None:
                self._set_state(instance, "serving")
                return instance
            log = Path(instance.spec_path).with_suffix(".log")
            if self._alive(instance):
                self._stop(instance)
            else:
                self._forget(instance)
            if status == _EXIT_CANNOT_BIND and attempt < _START_ATTEMPTS:
                self.context.progress(f"{desired.name}: port {instance.port} was taken; retrying")
                continue
            error = PermanentError if status == _EXIT_REFUSED else ProviderError
            raise error(
                f"{desired.name}: the new process {failure}; the previous version (if any) "
                f"keeps serving.{log_tail(log)}"
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _launch(
        self,
        desired: DesiredService,
        environment: str,
        paths: list[Path],
        folder: Path,
        code: Path | None,
    ) -> Instance:
        host = self.settings.host
        port = processes.free_port(host)
        instance_id = uuid.uuid4().hex
        spec_path = folder / f"{instance_id}.json"
        started_at = datetime.now(UTC)
        spec = _service_spec(desired, environment, host, port, paths, started_at, self, code)
        write_atomic(spec_path, spec.model_dump_json(indent=2).encode())
        url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        row = {
            "instance": instance_id,
            "provider": self.key,
            "target": self.target.name,
            "environment": environment,
            "name": desired.name,
            "host": self.machine,
            "state": "starting",
            "pid": None,
            "process_start": None,
            "port": port,
            "url": url,
            "fingerprint": desired.fingerprint,
            "revision": desired.revision,
            "settings": json.dumps(desired.settings(), sort_keys=True),
            "spec_path": str(spec_path),
            "started_at": started_at.isoformat(timespec="seconds"),
        }
        # Recorded before the process exists, so an interruption right after the start
        # leaves a row that tidy() can find the process by (its spec path).
        with self.db.transaction() as conn:
            key = conn.execute(insert(services).values(**row)).inserted_primary_key
        assert key is not None
        row_id = int(key[0])
        log = spec_path.with_suffix(".log")
        pid = self.launcher.start_service(spec_path, log=log, cwd=self.root)
        info = processes.inspect(pid)
        start = info.start if info is not None else None
        with self.db.transaction() as conn:
            conn.execute(
                update(services).where(services.c.id == row_id).values(pid=pid, process_start=start)
            )
        self.context.progress(f"{desired.name}: started pid {pid} on {url}")
        return Instance.from_row({**row, "id": row_id, "pid": pid, "process_start": start})

    def _wait_healthy(self, instance: Instance) -> tuple[str | None, int | None]:
        """(None, None) once the new process is healthy, else what went wrong and its exit
        status if it exited."""
        assert instance.pid is not None
        deadline = time.monotonic() + self.settings.start_timeout_seconds
        self.context.progress(f"{instance.name}: waiting for /health")
        while True:
            code = processes.reap(instance.pid)  # a child of this process: poll() sees it exit
            if code is None and not self._alive(instance):  # forked by the launcher
                code = _launcher_exit_status(Path(instance.spec_path))
                return f"exited with status {code if code is not None else 'unknown'}", code
            if code is not None:
                return f"exited with status {code}", code
            health = self._probe(instance, timeout=1.0)
            if health.ok:
                return None, None
            if time.monotonic() >= deadline:
                timeout = self.settings.start_timeout_seconds
                return f"was not healthy within {timeout:g} s ({health.reason})", None
            time.sleep(0.1)

    def _code(self, snapshot: Snapshot) -> Path:
        """The revision's Python files under ``runtime/code/<digest>``, where a function's
        handler is imported from; the same files share one folder."""
        files = sorted((p, oid) for p, oid in snapshot.files.items() if p.endswith(".py"))
        digest = hashlib.sha256(json.dumps(files).encode()).hexdigest()[:16]
        folder = self.root / "code" / digest
        if not folder.is_dir():
            staging = folder.with_name(f".{digest}.{uuid.uuid4().hex}")
            for path, _ in files:
                target = staging / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(snapshot.read(path))
            staging.mkdir(parents=True, exist_ok=True)
            try:
                staging.rename(folder)
            except OSError:  # another sync wrote the same files first
                shutil.rmtree(staging, ignore_errors=True)
        return folder

    def _materialize(
        self, snapshot: Snapshot, model: DesiredModel, desired: DesiredService
    ) -> Path:
        """The model file under ``runtime/models/<sha256>``, its digest verified."""
        path = self.root / "models" / model.sha256
        if path.is_file() and _sha256(path.read_bytes()) == model.sha256:
            return path
        data = _artifact(snapshot, model, desired)
        actual = _sha256(data)
        if actual != model.sha256:
            raise PermanentError(
                f"{desired.name}: {model.uri} has sha256 {actual}, but Model/{model.name} pins "
                f"{model.sha256}; not deploying it"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
        return path


_HELD: dict[Path, int] = {}
"""Lock files this process holds, and how many ``lock()`` calls are inside them."""


@contextlib.contextmanager
def _machine_lock(root: Path, progress: Callable[[str], None]) -> Iterator[None]:
    """An exclusive lock on ``root/lock`` across processes, re-entrant within one (two
    local targets in one sync share it)."""
    path = (root / "lock").resolve()
    if _HELD.get(path):
        _HELD[path] += 1
        try:
            yield
        finally:
            _HELD[path] -= 1
        return
    root.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("waiting for another sync on this machine to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        _HELD[path] = 1
        try:
            yield
        finally:
            del _HELD[path]
            fcntl.flock(handle, fcntl.LOCK_UN)


def _artifact(snapshot: Snapshot, model: DesiredModel, desired: DesiredService) -> bytes:
    uri = model.uri
    if uri.startswith("store://"):
        root = artifact_store().resolve()
        target = (root / uri.removeprefix("store://")).resolve()
        if root not in target.parents:
            raise PermanentError(f"{desired.name}: {uri} leaves the artifact store")
        if target.is_file():
            return target.read_bytes()
        if target.is_dir():
            raise PermanentError(
                f"{desired.name}: {uri} is a folder; model folders are not supported by the "
                "local provider yet"
            )
        raise PermanentError(f"{desired.name}: {uri} is not in the artifact store {root}")
    path = os.path.normpath(uri)
    if path in snapshot.files:
        return snapshot.read(path)
    if any(p.startswith(path.rstrip("/") + "/") for p in snapshot.files):
        raise PermanentError(
            f"{desired.name}: {uri} is a folder; model folders are not supported by the "
            "local provider yet"
        )
    raise PermanentError(f"{desired.name}: {uri} is not in the repository at {snapshot.short}")


def _service_spec(
    desired: DesiredService,
    environment: str,
    host: str,
    port: int,
    paths: list[Path],
    started_at: datetime | None,
    provider: LocalProvider,
    code: Path | None = None,
) -> ServiceSpec:
    document: dict[str, Any] = {
        "deployment": _deployment(desired.name),
        "environment": environment,
        "revision": desired.revision,
        "host": host,
        "port": port,
        "memoryMb": desired.memory_mb,
        "concurrency": desired.concurrency,
        "timeoutSeconds": desired.timeout_seconds,
        "startedAt": started_at.isoformat() if started_at else None,
        "telemetry": {
            "directory": str(provider.telemetry),
            "flushSeconds": provider.settings.telemetry_flush_seconds,
        },
        "models": [
            {
                "name": m.name,
                "version": m.version,
                "path": str(path),
                "sha256": m.sha256,
                "format": m.format,
                "trusted": m.trusted,
                "trustedTypes": list(m.trusted_types),
                "features": list(m.features),
                "percent": m.percent,
            }
            for m, path in zip(desired.models, paths, strict=True)
        ],
    }
    if desired.handler is not None:
        del document["models"]
        document["function"] = {
            "handler": desired.handler,
            "codePath": str(code),
            "env": dict(desired.env),
        }
    try:
        return ServiceSpec.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise PermanentError(
            f"{desired.name} ({desired.file}): the local runtime cannot run it: {problems}"
        ) from None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _slug(name: str) -> str:
    """``ModelDeployment/fraud-api`` → ``modeldeployment-fraud-api`` (a folder name)."""
    return re.sub(r"[^a-z0-9.-]+", "-", name.lower())


def _prune_logs(folder: Path) -> None:
    """Keep the logs of the newest instances of a service, and of every one still
    recorded (its spec file exists)."""
    try:
        logs = sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for old in logs[_LOGS_KEPT:]:
        if not old.with_suffix(".json").exists():
            old.unlink(missing_ok=True)


def _deployment(name: str) -> str:
    """``ModelDeployment/fraud-api`` → ``fraud-api``."""
    return name.partition("/")[2]


def _launcher_exit_status(spec: Path, wait: float = 1.0) -> int | None:
    """The status the launcher recorded for its child (it writes it once it reaps)."""
    deadline = time.monotonic() + wait
    while (code := exit_status(spec)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return code


def _route_health(
    status: dict[tuple[str, str], dict[str, Any]] | None, environment: str, name: str
) -> Health:
    if status is None:
        return Health(False, "the activator is not running")
    route = status.get((environment, name))
    if route is None:
        return Health(False, "the activator does not route it")
    cold = route.get("coldStarts") or {}
    backend = route.get("backend")
    details = {"state": route["state"], "coldStarts": cold, "revision": route["revision"]}
    if backend:
        details.update(pid=backend["pid"], url=backend["url"])
        return Health(True, f"warm (pid {backend['pid']})", details)
    return Health(True, "scaled to zero; starts on the next request", details)

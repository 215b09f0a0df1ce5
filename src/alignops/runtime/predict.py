"""A model deployment's service: ``POST /predict``.

``{"rows": [{feature: value, ...}, ...]}`` (or ``"instances"``) → ``{"predictions",
"probabilities"?, "classes"?, "model", "version", "revision", "requestId"}``
(docs/runtime.md has examples). The request is routed to one model version (canary
split, :mod:`alignops.runtime.routing`) and scored in the shared thread pool, several
waiting requests per model call (:mod:`alignops.runtime.batching`, decision 0016).
Admission, limits and telemetry are :class:`~alignops.runtime.service.Service`'s.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from fastapi import Request, Response

from alignops.runtime.batching import Batcher, Job
from alignops.runtime.model import RequestError, load_model_version
from alignops.runtime.routing import Router
from alignops.runtime.service import Call, Service, error_body
from alignops.runtime.spec import ServiceSpec

__all__ = ["ModelService"]

_TIMEOUT = object()


class ModelService(Service):
    """The models of one deployment, their router and batchers."""

    kind: ClassVar[str] = "ModelDeployment"
    endpoint: ClassVar[str] = "/predict"

    def __init__(self, spec: ServiceSpec, *, spec_file: str = "spec") -> None:
        assert spec.models is not None  # create_app picks this class for model specs
        super().__init__(spec)
        self.versions = [
            load_model_version(served, where=f"{spec_file}: models[{i}]")
            for i, served in enumerate(spec.models)
        ]
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

    @property
    def serving(self) -> str:
        return ", ".join(f"{v.name} {v.version} ({v.percent}%)" for v in self.versions)

    def served(self) -> dict[str, Any]:
        return {
            "models": [
                {"name": v.name, "version": v.version, "sha256": v.sha256} for v in self.versions
            ]
        }

    def described(self) -> dict[str, Any]:
        return {
            "models": [
                {
                    "name": v.name,
                    "version": v.version,
                    "sha256": v.sha256,
                    "percent": v.percent,
                    "features": list(v.features),
                }
                for v in self.versions
            ]
        }

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        for batcher in self.batchers:
            batcher.bind(loop, self._deliver)

    async def handle(self, request: Request) -> Response:
        call = self.admit(request)
        if not isinstance(call, Call):
            return call
        batcher = self.router.choose(call.request_id)
        version = batcher.version
        served = (version.name, version.version)
        try:
            body = await request.body()
        except Exception:  # noqa: BLE001 - the client went away mid-body
            self.release()
            return self.answer(call, served, None, 499, b"", "client-disconnected", 0)
        loop = self.loop or asyncio.get_running_loop()
        job = Job(body, call.request_id, loop.create_future())
        if batcher.score_inline(job):
            self.release()
            outcome = job.outcome
        else:
            batcher.submit(job)
            timer = loop.call_later(self.spec.timeout_seconds, _expire, job, batcher)
            try:
                outcome = await job.future
            except asyncio.CancelledError:  # the server gave up on it (shutdown grace expired)
                self.answer(call, served, body, 499, b"", "cancelled", 0)
                raise
            finally:
                timer.cancel()
        if isinstance(outcome, tuple):
            out, rows = outcome
            return self.answer(call, served, body, 200, out, None, rows)
        if outcome is _TIMEOUT:
            status, code = 504, "timeout"
            message = f"no answer within {self.spec.timeout_seconds:g} s"
        elif isinstance(outcome, RequestError):
            status, code, message = outcome.status, outcome.code, outcome.message
        else:
            status, code = 500, "model-error"
            message = f"the model failed: {type(outcome).__name__}: {outcome}"
        out = error_body(code, message, call.request_id)
        return self.answer(call, served, body, status, out, code, 0)

    def _deliver(self, jobs: list[Job]) -> None:
        """Event loop: a worker finished these jobs; free their slots, wake their handlers."""
        for job in jobs:
            self.release()  # a slot is free only once the model really finished
            if not job.future.done():
                job.future.set_result(job.outcome)


def _expire(job: Job, batcher: Batcher) -> None:
    if not job.future.done():
        job.expired = True
        job.future.set_result(_TIMEOUT)
        batcher.kick()

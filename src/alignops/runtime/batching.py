"""Scoring off the event loop, several waiting requests per model call.

Each model version has a :class:`Batcher`. A handler hands it a :class:`Job` and awaits
the job's future. If no worker is scoring for that version, the batcher starts one in
the thread pool; the worker takes every job waiting (up to ``max_jobs``), scores their
rows with one ``predict`` (and one ``predict_proba``) call, splits the results by
request, and hands all the answers back to the event loop in one call. While it scores,
new jobs wait and form the next batch. Under load this turns the per-call overhead of
the model (scikit-learn validates its input on every call: ~0.2 ms for a 5-feature
logistic regression here) and the thread hand-offs into a per-batch cost (decision 0016).

A request never gets an answer computed from another request's rows, and one bad
request never spoils the others: if the batched call raises, or returns the wrong
number of rows, each request of the batch is scored again on its own. A model whose
answer for a row depends on the other rows in the call must say ``batch: false``.

A lone request to a fast model is scored on the event loop itself
(:meth:`Batcher.score_inline`): when no worker is busy and nothing waits for this
version, and the version's recent calls took less than ``INLINE_BUDGET_MS``, the two
thread hand-offs (to the pool and back through the loop's self-pipe) would cost more than
the model call — at one connection they were a third of the server's CPU per request.
A slow model, or any load that makes jobs wait, takes the pool as above (decision 0016).

A worker stuck in a model call past the timeout does not hold the others hostage: when a
job times out, :meth:`Batcher.kick` starts another worker for the jobs still waiting
(at most one per thread of the pool).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from alignops.runtime.model import ModelVersion, parse_rows

__all__ = ["INLINE_BUDGET_MS", "Batcher", "Job"]

INLINE_BUDGET_MS = 2.0
"""A version whose recent model calls took less than this (ms) scores a lone request on
the event loop; blocking the loop that long is cheaper than two thread hand-offs."""


class Job:
    """One ``/predict`` request waiting for, or holding, its outcome.

    ``outcome`` is ``(response body, rows scored)``, a ``RequestError``, another
    exception, or ``None`` if it timed out before a worker took it.
    """

    __slots__ = ("body", "expired", "future", "outcome", "request_id")

    def __init__(self, body: bytes, request_id: str, future: asyncio.Future[Any]) -> None:
        self.body = body
        self.request_id = request_id
        self.future = future
        self.expired = False  # set by the event loop when the request timed out
        self.outcome: Any = None


class Batcher:
    """The waiting jobs of one model version and the workers that score them."""

    def __init__(
        self,
        version: ModelVersion,
        *,
        revision: str,
        executor: Executor,
        max_workers: int,
        max_jobs: int,
        batch: bool,
    ) -> None:
        self.version = version
        self._revision = revision
        self._executor = executor
        self._max_workers = max_workers
        self._max_jobs = max_jobs if batch else 1
        self._lock = threading.Lock()
        self._waiting: collections.deque[Job] = collections.deque()
        self._workers = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deliver: Callable[[list[Job]], None] | None = None
        self._call_ms = float("inf")
        """Recent duration of one model call (a moving average; a slow call counts at
        once): unknown, so no inline scoring, until a worker has scored."""

    @property
    def percent(self) -> int:
        return self.version.percent

    def bind(self, loop: asyncio.AbstractEventLoop, deliver: Callable[[list[Job]], None]) -> None:
        """Where answers go: ``deliver(jobs)`` is called on ``loop``."""
        self._loop = loop
        self._deliver = deliver

    # -- event loop side ----------------------------------------------------------------

    def submit(self, job: Job) -> None:
        with self._lock:
            self._waiting.append(job)
            start = self._workers == 0
            if start:
                self._workers += 1
        if start:
            self._executor.submit(self._work)

    def score_inline(self, job: Job) -> bool:
        """Score ``job`` here, on the event loop, if it is alone and the model is fast;
        False (nothing done) if it should be submitted instead."""
        if self._call_ms >= INLINE_BUDGET_MS or self._workers or self._waiting:
            return False
        try:
            self._score([job])
        except Exception as exc:  # noqa: BLE001 - a bug here still answers the job
            if job.outcome is None:
                job.outcome = exc
        return True

    def kick(self) -> None:
        """A job timed out: if jobs wait, start one more worker (the current one may be stuck)."""
        with self._lock:
            start = bool(self._waiting) and self._workers < self._max_workers
            if start:
                self._workers += 1
        if start:
            self._executor.submit(self._work)

    # -- worker side --------------------------------------------------------------------

    def _work(self) -> None:
        assert self._loop is not None and self._deliver is not None
        while True:
            with self._lock:
                jobs = [
                    self._waiting.popleft() for _ in range(min(self._max_jobs, len(self._waiting)))
                ]
                if not jobs:
                    self._workers -= 1
                    return
            try:
                self._score(jobs)
            except BaseException as exc:  # noqa: BLE001 - a bug here still answers every job
                for job in jobs:
                    if job.outcome is None:
                        job.outcome = exc
            # RuntimeError: the event loop is closed, the process is stopping
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._deliver, jobs)

    def _score(self, jobs: list[Job]) -> None:
        began = time.perf_counter()
        try:
            self._score_jobs(jobs)
        finally:
            ms = (time.perf_counter() - began) * 1000
            # A slow call counts at once, fast ones bring the average down slowly.
            self._call_ms = (
                ms
                if ms > self._call_ms or self._call_ms == float("inf")
                else (0.8 * self._call_ms + 0.2 * ms)
            )

    def _score_jobs(self, jobs: list[Job]) -> None:
        version = self.version
        parsed: list[tuple[Job, list[list[Any]]]] = []
        for job in jobs:
            if job.expired:
                continue
            try:
                parsed.append((job, version.values(parse_rows(job.body))))
            except Exception as exc:  # noqa: BLE001 - the request's own error
                job.outcome = exc
        if not parsed:
            return
        if len(parsed) == 1:
            self._score_one(*parsed[0])
            return
        values = [row for _, rows in parsed for row in rows]
        try:
            predictions, probabilities = version.predict(version.matrix(values))
            if len(predictions) != len(values):
                raise ValueError("the model returned a different number of predictions")
        except Exception:  # noqa: BLE001 - find out whose rows it was: one by one
            for job, rows in parsed:
                self._score_one(job, rows)
            return
        start = 0
        for job, rows in parsed:
            end = start + len(rows)
            part = None if probabilities is None else probabilities[start:end]
            body = version.encode(predictions[start:end], part, job.request_id, self._revision)
            job.outcome = (body, len(rows))
            start = end

    def _score_one(self, job: Job, rows: list[list[Any]]) -> None:
        version = self.version
        try:
            predictions, probabilities = version.predict(version.matrix(rows))
            body = version.encode(predictions, probabilities, job.request_id, self._revision)
            job.outcome = (body, len(rows))
        except BaseException as exc:  # noqa: BLE001 - every failure becomes an answer
            job.outcome = exc

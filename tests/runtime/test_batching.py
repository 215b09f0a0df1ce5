"""Where a request is scored: a lone request to a fast model on the event loop, anything
else in the thread pool (decision 0016). Real models, a real pool and a real loop."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from alignops.runtime.batching import Batcher, Job
from alignops.runtime.model import ModelVersion
from tests.runtime.conftest import FEATURES, matrix, rows, train
from tests.runtime.models import SlowModel


def version(estimator: Any, *, proba: bool = True) -> ModelVersion:
    return ModelVersion(
        name="scorer",
        version="1",
        sha256="0" * 64,
        percent=100,
        features=tuple(FEATURES),
        frame_input=False,
        estimator=estimator,
        has_proba=proba,
        classes=[0, 1] if proba else None,
    )


async def through_pool(batcher: Batcher, body: bytes) -> Any:
    loop = asyncio.get_running_loop()
    job = Job(body, "r", loop.create_future())

    def deliver(jobs: list[Job]) -> None:
        for done in jobs:
            done.future.set_result(done.outcome)

    batcher.bind(loop, deliver)
    batcher.submit(job)
    return await job.future


def run(model: Any, *, proba: bool = True) -> dict[str, Any]:
    """Score one request in the pool, then try the next ones inline; what happened."""
    batch = rows(3, seed=5)
    body = json.dumps({"rows": batch}).encode()

    async def scenario() -> dict[str, Any]:
        with ThreadPoolExecutor(4) as pool:
            batcher = Batcher(
                version(model, proba=proba),
                revision="r",
                executor=pool,
                max_workers=4,
                max_jobs=16,
                batch=True,
            )
            loop = asyncio.get_running_loop()
            before = Job(body, "first", loop.create_future())
            unknown = batcher.score_inline(before)  # no call measured yet
            first = await through_pool(batcher, body)
            # The first calls are slow (imports, caches), and a busy machine can make any
            # call slow, which sends the next ones to the pool: warm up until a lone
            # request goes inline (a slow model never does, below).
            for _ in range(200):
                await through_pool(batcher, body)
                await asyncio.sleep(0.01)  # the worker has seen the queue empty and left
                inline = Job(body, "second", loop.create_future())
                scored_inline = batcher.score_inline(inline)
                if scored_inline:
                    break
            return {
                "unknown": unknown,
                "first": first,
                "inline": scored_inline,
                "outcome": inline.outcome,
                "batch": batch,
            }

    return asyncio.run(scenario())


def test_a_lone_request_to_a_fast_model_is_scored_inline_with_the_same_answer() -> None:
    model = train(3)
    seen = run(model)
    assert seen["unknown"] is False  # until a call was measured, the pool scores
    assert seen["inline"] is True
    body, scored = seen["outcome"]
    answer = json.loads(body)
    assert scored == 3
    assert answer["predictions"] == model.predict(matrix(seen["batch"])).tolist()
    assert json.loads(seen["first"][0])["predictions"] == answer["predictions"]


def test_a_slow_model_is_never_scored_on_the_event_loop() -> None:
    seen = run(SlowModel(0.05), proba=False)  # 50 ms a call: over the inline budget
    assert seen["inline"] is False
    assert seen["outcome"] is None  # untouched: the caller submits it to the pool
    assert json.loads(seen["first"][0])["predictions"] == [0, 0, 0]


def test_a_request_waits_for_the_pool_while_a_worker_is_busy() -> None:
    async def scenario() -> tuple[bool, Any]:
        with ThreadPoolExecutor(2) as pool:
            batcher = Batcher(
                version(train(1)),
                revision="r",
                executor=pool,
                max_workers=2,
                max_jobs=16,
                batch=True,
            )
            body = json.dumps({"rows": rows(1, seed=1)}).encode()
            for _ in range(20):
                await through_pool(batcher, body)  # measured: fast (or not: either way
            loop = asyncio.get_running_loop()
            waiting = Job(body, "waiting", loop.create_future())
            batcher.submit(waiting)  # a worker now has a job
            lone = Job(body, "lone", loop.create_future())
            inline = batcher.score_inline(lone)  # … a queued job goes first)
            return inline, await waiting.future

    inline, outcome = asyncio.run(scenario())
    assert inline is False  # it would overtake the queued job: it queues too
    assert json.loads(outcome[0])["requestId"] == "waiting"

"""A real service process with a 90/10 canary of two scikit-learn models saved with skops:
its answers, its metadata, the split, and what it does with bad requests."""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from tests.runtime.conftest import (
    FEATURES,
    Service,
    launch,
    matrix,
    rows,
    service_spec,
    skops_model,
    train,
)


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("canary")
    models = {"v1": train(seed=1), "v2": train(seed=2)}
    entries = [
        skops_model(tmp / "v1.skops", models["v1"], percent=90),
        skops_model(tmp / "v2.skops", models["v2"], percent=10),
    ]
    service = launch(tmp, service_spec(tmp, entries, concurrency=64))
    yield service, models
    assert service.stop() == 0


def post_all(url: str, bodies: list[dict[str, Any]], headers: list[dict[str, str]]) -> list[Any]:
    """POST every body, 16 clients at a time, as real concurrent clients would."""
    results: list[Any] = [None] * len(bodies)

    async def run() -> None:
        todo = iter(range(len(bodies)))
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:

            async def worker() -> None:
                for i in todo:
                    content = json.dumps(bodies[i])
                    results[i] = await client.post("/predict", content=content, headers=headers[i])

            await asyncio.gather(*(worker() for _ in range(16)))

    asyncio.run(run())
    return results


def test_predictions_equal_the_models_own_predict(canary: tuple[Service, Any]) -> None:
    service, models = canary
    batches = [rows(1 + i % 4, seed=100 + i) for i in range(200)]
    responses = post_all(service.url, [{"rows": b} for b in batches], [{}] * len(batches))
    for batch, response in zip(batches, responses, strict=True):
        assert response.status_code == 200, response.text
        answer = response.json()
        model = models[answer["version"]]
        assert answer["model"] == "scorer"
        assert answer["revision"] == service.spec["revision"]
        assert answer["requestId"] == response.headers["x-request-id"]
        assert answer["predictions"] == model.predict(matrix(batch)).tolist()
        assert answer["classes"] == model.classes_.tolist()
        np.testing.assert_allclose(
            answer["probabilities"], model.predict_proba(matrix(batch)), rtol=1e-12
        )


def test_instances_is_accepted_like_rows(canary: tuple[Service, Any]) -> None:
    service, models = canary
    batch = rows(3, seed=7)
    response = httpx.post(f"{service.url}/predict", json={"instances": batch})
    answer = response.json()
    assert answer["predictions"] == models[answer["version"]].predict(matrix(batch)).tolist()


def test_metadata_names_deployment_revision_and_models(canary: tuple[Service, Any]) -> None:
    service, _ = canary
    meta = httpx.get(f"{service.url}/metadata").json()
    assert meta["deployment"] == "fraud-scorer"
    assert meta["environment"] == "staging"
    assert meta["revision"] == service.spec["revision"]
    assert [(m["name"], m["version"], m["percent"]) for m in meta["models"]] == [
        ("scorer", "v1", 90),
        ("scorer", "v2", 10),
    ]
    pinned = [m["sha256"] for m in service.spec["models"]]
    assert [m["sha256"] for m in meta["models"]] == pinned
    assert meta["models"][0]["features"] == FEATURES
    assert meta["limits"] == {"memoryMb": 2048, "concurrency": 64, "timeoutSeconds": 10.0}


def test_health_reports_memory_in_flight_and_digests(canary: tuple[Service, Any]) -> None:
    service, _ = canary
    health = service.health()
    assert health["status"] == "ok"
    assert 0 < health["memory"]["rssMb"] <= health["memory"]["peakMb"]
    assert health["memory"]["limitMb"] == 2048
    assert health["inFlight"] == 0
    assert [m["sha256"] for m in health["models"]] == [m["sha256"] for m in service.spec["models"]]
    assert health["initMs"] > 0


def test_canary_split_is_90_10_and_each_answer_names_its_version(
    canary: tuple[Service, Any],
) -> None:
    service, _ = canary
    n = 2000
    bodies = [{"rows": rows(1, seed=5000 + i)} for i in range(n)]
    responses = post_all(service.url, bodies, [{}] * n)
    assert all(r.status_code == 200 for r in responses)
    counts = Counter(r.json()["version"] for r in responses)
    assert set(counts) == {"v1", "v2"}
    # Binomial(2000, 0.1): sd 13.4; 5 sd either side is a false alarm once in 3.5 million.
    sd = math.sqrt(n * 0.1 * 0.9)
    assert abs(counts["v2"] - n * 0.1) < 5 * sd, counts


def test_same_request_id_always_gets_the_same_version(canary: tuple[Service, Any]) -> None:
    service, _ = canary
    ids = [f"client-{i}" for i in range(60)]
    first = post_all(
        service.url, [{"rows": rows(1, seed=1)}] * 60, [{"X-Request-Id": i} for i in ids]
    )
    again = post_all(
        service.url, [{"rows": rows(1, seed=2)}] * 60, [{"X-Request-Id": i} for i in ids]
    )
    assert [r.json()["version"] for r in first] == [r.json()["version"] for r in again]
    assert [r.headers["x-request-id"] for r in first] == ids


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"not json", 400, "the body is not JSON"),
        (b'{"rows": []}', 400, '"rows" must be a non-empty list'),
        (b'{"rows": [1, 2]}', 400, "rows[0] must be an object"),
        (b'{"rows": [{"f0": 1}]}', 400, "rows[0] has no feature 'f1'"),
        (b'{"rows": [{"f0": 1}], "instances": []}', 400, 'exactly one of "rows" or "instances"'),
        (
            b'{"rows": [{"f0": "a", "f1": 1, "f2": 1, "f3": 1, "f4": 1}]}',
            400,
            "must be a number",
        ),
    ],
)
def test_bad_requests_get_a_json_error_naming_the_problem(
    canary: tuple[Service, Any], body: bytes, status: int, message: str
) -> None:
    service, _ = canary
    response = httpx.post(f"{service.url}/predict", content=body)
    assert response.status_code == status
    error = response.json()
    assert message in error["message"]
    assert error["requestId"] == response.headers["x-request-id"]


def test_a_bad_request_does_not_spoil_the_others_scored_with_it(
    canary: tuple[Service, Any],
) -> None:
    service, models = canary
    good = [{"rows": rows(2, seed=900 + i)} for i in range(40)]
    bad: list[dict[str, Any]] = [
        {"rows": [{"f0": float("nan"), **dict.fromkeys(FEATURES[1:], 0.0)}]}
    ]
    bodies = good[:20] + bad * 5 + good[20:]
    responses = post_all(service.url, bodies, [{}] * len(bodies))
    for body, response in zip(bodies, responses, strict=True):
        if body in bad:
            assert response.status_code == 422, response.text
            assert "cannot score these rows" in response.json()["message"]
        else:
            answer = response.json()
            model = models[answer["version"]]
            assert answer["predictions"] == model.predict(matrix(body["rows"])).tolist()

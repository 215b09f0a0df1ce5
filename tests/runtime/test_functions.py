"""A ``ServerlessFunction`` served by a real runtime process: ``POST /invoke`` calls a
``module:function`` handler from a repository's code (tests/runtime/function_code), plain
or ``async def``, with the same limits and telemetry as models."""

from __future__ import annotations

import asyncio
import json
import math
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from alignops.errors import InputError
from alignops.runtime import load_spec
from tests.runtime.conftest import (
    FUNCTION_CODE,
    ROOT,
    Service,
    function,
    launch,
    service_spec,
    skops_model,
    train,
)

PLAIN = "checkout.handlers:handle"
ASYNC = "checkout.handlers:handle_async"
ITEMS = [{"sku": "A-1", "price": 12.5, "quantity": 2}, {"sku": "B-7", "price": 3.25}]


def _serve(tmp: Path, handler: str, **overrides: Any) -> Iterator[Service]:
    entry = function(handler, env={"GREETING": "hello from the manifest"})
    spec = service_spec(tmp, None, deployment="checkout-events", function=entry, **overrides)
    service = launch(tmp, spec)
    yield service
    assert service.stop() == 0


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    yield from _serve(tmp_path_factory.mktemp("plain"), PLAIN)


@pytest.fixture(scope="module")
def awaited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    yield from _serve(tmp_path_factory.mktemp("async"), ASYNC)


def invoke(service: Service, event: Any, request_id: str | None = None) -> httpx.Response:
    headers = {"X-Request-Id": request_id} if request_id else {}
    return httpx.post(f"{service.url}/invoke", json=event, headers=headers, timeout=30)


def read_telemetry(service: Service) -> list[dict[str, Any]]:
    table = pq.read_table(service.telemetry_dir)
    return sorted(table.to_pylist(), key=lambda r: r["timestamp"])


# -- answers -----------------------------------------------------------------------------


def test_a_plain_handler_gets_the_event_and_a_context_and_runs_in_a_worker_thread(
    plain: Service,
) -> None:
    event = {"order": "o-1842", "items": ITEMS}
    response = invoke(plain, event, "order-1842")
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "order-1842"
    answer = response.json()
    assert answer["event"] == event
    assert answer["total"] == 28.25  # computed by another module of the same repository
    assert answer["requestId"] == "order-1842"
    assert answer["deployment"] == "checkout-events"
    assert answer["environment"] == "staging"
    assert answer["revision"] == plain.spec["revision"]
    assert 0 < answer["remainingSeconds"] <= plain.spec["timeoutSeconds"]
    assert answer["thread"].startswith("worker")  # the thread pool, not the event loop


def test_an_async_handler_is_awaited_on_the_event_loop(awaited: Service) -> None:
    response = invoke(awaited, {"items": ITEMS}, "order-7")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["thread"] == "MainThread"
    assert answer["total"] == 28.25
    assert (answer["requestId"], answer["deployment"]) == ("order-7", "checkout-events")
    assert 0 < answer["remainingSeconds"] <= awaited.spec["timeoutSeconds"]


def test_env_is_set_before_the_handler_module_is_imported(plain: Service) -> None:
    answer = invoke(plain, {}).json()
    assert answer["greeting"] == "hello from the manifest"
    assert answer["greetingAtImport"] == "hello from the manifest"


@pytest.mark.parametrize("handler", ["plain", "awaited"])
def test_a_handler_exception_is_500_with_type_and_message_and_the_service_keeps_serving(
    handler: str, request: pytest.FixtureRequest
) -> None:
    service: Service = request.getfixturevalue(handler)
    response = invoke(service, {"do": "fail", "customer": "c-42"}, f"boom-{handler}")
    assert response.status_code == 500
    assert response.json() == {
        "error": "handler-error",
        "message": "no customer 'c-42'",
        "type": "ValueError",
        "requestId": f"boom-{handler}",
    }
    assert "Traceback" not in response.text
    # The traceback is on stderr, with the handler's file and line.
    stderr = service.stderr()
    header = f"checkout-events: request boom-{handler}: checkout.handlers:{'handle' if handler == 'plain' else 'handle_async'}: the handler raised:"
    assert header in stderr
    trace = stderr[stderr.index(header) :]
    assert re.search(r'checkout/handlers\.py", line \d+, in handle', trace)
    assert "ValueError: no customer 'c-42'" in trace
    # And it keeps serving.
    assert invoke(service, {"items": ITEMS}).json()["total"] == 28.25
    assert service.health()["status"] == "ok"
    assert service.health()["inFlight"] == 0


def test_a_result_that_is_not_json_is_500_naming_the_type(plain: Service) -> None:
    response = invoke(plain, {"do": "set"}, "set-1")
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "handler-error"
    assert body["type"] == "TypeError"
    assert body["message"].startswith("the handler returned a set that is not JSON: ")
    assert "checkout-events: request set-1: checkout.handlers:handle: the handler returned a set" in plain.stderr()  # fmt: skip


def test_a_body_that_is_not_json_is_400(plain: Service) -> None:
    response = httpx.post(f"{plain.url}/invoke", content=b"{order: 1}")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "bad-request"
    assert body["message"].startswith("the body is not JSON: ")


def test_predict_on_a_function_is_404_pointing_to_invoke(plain: Service) -> None:
    response = httpx.post(f"{plain.url}/predict", json={"rows": [{"f0": 1}]})
    assert response.status_code == 404
    assert response.json()["error"] == "not-found"
    assert response.json()["message"] == (
        "checkout-events is a ServerlessFunction: POST /invoke, not /predict"
    )


def test_invoke_on_a_model_service_is_404_pointing_to_predict(start: Any, tmp_path: Path) -> None:
    service = start([skops_model(tmp_path / "v1.skops", train(seed=1))])
    response = httpx.post(f"{service.url}/invoke", json={"order": 1})
    assert response.status_code == 404
    assert response.json()["message"] == (
        "fraud-scorer is a ModelDeployment: POST /predict, not /invoke"
    )
    assert httpx.get(f"{service.url}/metadata").json()["kind"] == "ModelDeployment"


def test_metadata_and_health_name_the_handler(plain: Service, awaited: Service) -> None:
    meta = httpx.get(f"{plain.url}/metadata").json()
    assert meta == {
        "kind": "ServerlessFunction",
        "deployment": "checkout-events",
        "environment": "staging",
        "revision": plain.spec["revision"],
        "limits": {"memoryMb": 2048, "concurrency": 16, "timeoutSeconds": 10.0},
        "handler": PLAIN,
        "async": False,
    }
    assert httpx.get(f"{awaited.url}/metadata").json()["async"] is True
    health = plain.health()
    assert health["status"] == "ok"
    assert health["handler"] == PLAIN
    assert "models" not in health
    assert 0 < health["memory"]["rssMb"] <= health["memory"]["peakMb"]
    assert health["initMs"] > 0
    assert f"checkout-events (staging, {plain.spec['revision']}) serving the handler {PLAIN}" in (
        plain.stderr()
    )


# -- limits ------------------------------------------------------------------------------


async def _invoke_together(url: str, event: dict[str, Any], n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as client:
        return list(await asyncio.gather(*(client.post(url, json=event) for _ in range(n))))


def test_invocations_beyond_the_concurrency_limit_get_429_with_retry_after(
    start_function: Any,
) -> None:
    service = start_function(PLAIN, concurrency=2, timeoutSeconds=30)
    event = {"do": "sleep", "seconds": 1.5}
    responses = asyncio.run(_invoke_together(f"{service.url}/invoke", event, 5))
    assert sorted(r.status_code for r in responses) == [200, 200, 429, 429, 429]
    for refused in (r for r in responses if r.status_code == 429):
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["error"] == "too-many-requests"
        assert "2 requests are in flight" in refused.json()["message"]
    assert service.health()["inFlight"] == 0
    assert invoke(service, {"do": "echo"}).status_code == 200
    assert service.stop() == 0
    records = read_telemetry(service)
    assert sorted(r["status"] for r in records) == [200, 200, 200, 429, 429, 429]
    for record in records:
        if record["status"] == 429:  # refused before the handler: not billed
            assert (record["model"], record["billed_ms"], record["error"]) == (
                None,
                0,
                "too-many-requests",
            )
        else:
            assert record["model"] == PLAIN


def test_a_plain_handler_past_the_timeout_gets_504_and_holds_its_slot_until_it_returns(
    start_function: Any,
) -> None:
    service = start_function(PLAIN, concurrency=1, timeoutSeconds=0.3)
    response = invoke(service, {"do": "sleep", "seconds": 2.0})
    assert response.status_code == 504
    assert response.json() == {
        "error": "timeout",
        "message": "no answer within 0.3 s",
        "requestId": response.headers["x-request-id"],
    }
    # A thread cannot be interrupted: the handler still runs and holds the only slot.
    assert service.health()["inFlight"] == 1
    assert invoke(service, {}).status_code == 429
    deadline = time.monotonic() + 10
    while service.health()["inFlight"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.health()["inFlight"] == 0
    assert invoke(service, {}).status_code == 200
    assert service.stop() == 0
    assert [(r["status"], r["error"]) for r in read_telemetry(service)] == [
        (504, "timeout"),
        (429, "too-many-requests"),
        (200, None),
    ]


def test_an_async_handler_past_the_timeout_gets_504_and_is_cancelled(
    start_function: Any, tmp_path: Path
) -> None:
    service = start_function(ASYNC, concurrency=1, timeoutSeconds=0.3)
    mark = tmp_path / "cancelled"
    response = invoke(service, {"do": "sleep", "seconds": 60, "mark": str(mark)})
    assert response.status_code == 504
    assert response.json()["message"] == "no answer within 0.3 s"
    # Cancelled right after the 504: CancelledError reaches the handler's await, and its
    # slot is free without waiting for the 60 s.
    deadline = time.monotonic() + 10
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mark.read_text() == "cancelled"
    assert service.health()["inFlight"] == 0
    assert invoke(service, {}).status_code == 200


def test_past_the_memory_limit_a_function_exits_137(start_function: Any) -> None:
    limit = 400
    service = start_function(PLAIN, memoryMb=limit, memoryCheckSeconds=0.02)
    for _ in range(20):  # at most 20 × 60 MB: it must stop well before
        try:
            invoke(service, {"do": "hog", "mb": 60})
            time.sleep(0.2)  # let the memory watch sample
        except httpx.TransportError:
            break
        if service.process.poll() is not None:
            break
    assert service.process.wait(30) == 137
    assert f"exceeds the limit of {limit} MB; exiting with status 137" in service.stderr()


# -- telemetry ---------------------------------------------------------------------------


def test_every_invocation_is_one_telemetry_row_with_the_event_and_the_result(
    start_function: Any,
) -> None:
    service = start_function(PLAIN, memoryMb=512, telemetry={"flushSeconds": 120})
    sent: list[tuple[str, bytes, int, bytes, str | None]] = []
    events = [{"order": f"o-{i}", "items": ITEMS[: 1 + i % 2]} for i in range(5)]
    events += [{"do": "fail", "customer": "c-1"}, {"do": "set"}]
    with httpx.Client(base_url=service.url, timeout=30) as client:
        for i, event in enumerate(events):
            body = json.dumps(event).encode()
            response = client.post("/invoke", content=body, headers={"X-Request-Id": f"r-{i}"})
            error = None if response.status_code == 200 else response.json()["error"]
            sent.append((f"r-{i}", body, response.status_code, response.content, error))
        bad = client.post("/invoke", content=b"not json", headers={"X-Request-Id": "bad"})
        sent.append(("bad", b"not json", bad.status_code, bad.content, "bad-request"))
        # Not an invocation: no row.
        assert client.post("/predict", json={"rows": []}).status_code == 404
    assert service.stop() == 0

    records = read_telemetry(service)
    assert [r["request_id"] for r in records] == [s[0] for s in sent]
    assert [r["status"] for r in records] == [200] * 5 + [500, 500, 400]
    for record, (_, body, status, out, error) in zip(records, sent, strict=True):
        assert record["deployment"] == "checkout-events"
        assert record["environment"] == "staging"
        assert record["revision"] == service.spec["revision"]
        assert (record["model"], record["model_version"]) == (PLAIN, None)
        assert record["status"] == status
        assert record["inputs"] == body.decode()
        assert record["outputs"] == out.decode()
        assert record["error"] == error
        assert record["rows"] == (1 if status == 200 else 0)
        assert record["latency_ms"] > 0
        assert record["billed_ms"] == max(1, math.ceil(record["latency_ms"]))
        assert record["gb_seconds"] == pytest.approx(512 / 1024 * record["billed_ms"] / 1000)
        assert record["memory_limit_mb"] == 512
    assert [r["cold_start"] for r in records] == [True] + [False] * 7
    assert records[0]["init_ms"] > 0
    assert json.loads(records[0]["outputs"])["event"] == events[0]


# -- refusals ----------------------------------------------------------------------------


def _write(code: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (code / name).parent.mkdir(parents=True, exist_ok=True)
        (code / name).write_text(text)


@pytest.mark.parametrize(
    ("files", "handler", "message"),
    [
        pytest.param(
            {"broken/syntax.py": "def handle(event, context)\n    return event\n"},
            "broken.syntax:handle",
            "{code}/broken/syntax.py:1: SyntaxError: expected ':'",
            id="syntax-error",
        ),
        pytest.param(
            {"broken/config.py": "import os\n\nLIMIT = int(os.environ['LIMIT'])\n"},
            "broken.config:handle",
            "importing broken.config failed at {code}/broken/config.py:3: KeyError: 'LIMIT'",
            id="raises-at-import",
        ),
        pytest.param(
            {"broken/deps.py": '"""Needs a package that is not installed."""\nimport numpyy\n'},
            "broken.deps:handle",
            "importing broken.deps failed at {code}/broken/deps.py:2: "
            "ModuleNotFoundError: No module named 'numpyy'",
            id="missing-dependency",
        ),
        pytest.param(
            {"broken/ok.py": "LIMIT = 3\n"},
            "broken.nothere:handle",
            "no module broken.nothere in {code}",
            id="no-module",
        ),
        pytest.param(
            {"broken/ok.py": "LIMIT = 3\n"},
            "broken.ok:handle",
            "{code}/broken/ok.py defines no handle",
            id="no-function",
        ),
        pytest.param(
            {"broken/ok.py": "LIMIT = 3\n"},
            "broken.ok:LIMIT",
            "{code}/broken/ok.py: LIMIT is a int, not a function",
            id="not-callable",
        ),
        pytest.param(
            {"broken/ok.py": "LIMIT = 3\n"},
            "json:dumps",
            "json is {json}, not a module of the repository's code in {code}; rename the "
            "repository's module",
            id="not-the-repositorys-module",
        ),
    ],
)
def test_a_handler_that_cannot_be_loaded_refuses_to_start_naming_handler_file_and_line(
    start_function: Any, tmp_path: Path, files: dict[str, str], handler: str, message: str
) -> None:
    code = (tmp_path / "code").resolve()
    _write(code, files)
    service = start_function(handler, code=code, wait=False)
    assert service.process.wait(60) == 2
    expected = message.format(code=code, json=json.__file__)
    assert (
        f"alignops runtime: {service.spec_path}: function: handler {handler}: {expected}"
        in service.stderr()
    )


def test_a_code_path_that_is_not_a_folder_refuses_to_start(
    start_function: Any, tmp_path: Path
) -> None:
    service = start_function(PLAIN, code=tmp_path / "no-such-folder", wait=False)
    assert service.process.wait(60) == 2
    assert f"handler {PLAIN}: codePath {tmp_path / 'no-such-folder'} is not a folder" in (
        service.stderr()
    )


def _spec(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "deployment": "checkout-events",
        "environment": "dev",
        "revision": "r",
        "port": 8000,
        "memoryMb": 256,
        "telemetry": {"directory": "/tmp/t"},
        "function": {"handler": PLAIN, "codePath": str(FUNCTION_CODE)},
    }
    return {**base, **changes}


MODEL = {"name": "m", "version": "1", "path": "/m.skops", "sha256": "a" * 64}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"models": [MODEL]}, "exactly one of models (a model deployment) or function"),
        ({"function": None}, "exactly one of models (a model deployment) or function"),
        (
            {"function": {"handler": "checkout.handlers.handle", "codePath": "/c"}},
            "function.handler: String should match pattern",
        ),
        ({"function": {"handler": PLAIN}}, "function.codePath: Field required"),
        (
            {"function": {"handler": PLAIN, "codePath": "/c", "env": {"NO-DASHES": "1"}}},
            "function.env: Value error, not an environment variable name: 'NO-DASHES'",
        ),
        (
            {"function": {"handler": PLAIN, "codePath": "/c", "memory": 256}},
            "function.memory: Extra inputs are not permitted",
        ),
    ],
)
def test_an_invalid_function_spec_names_the_field(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(_spec(**changes)))
    with pytest.raises(InputError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{path}: invalid service spec: ")
    assert message in str(caught.value)


def test_a_spec_with_both_models_and_a_function_refuses_to_start(
    start: Any, tmp_path: Path
) -> None:
    model = skops_model(tmp_path / "v1.skops", train(seed=1))
    service = start([model], function=function(PLAIN), wait=False)
    assert service.process.wait(60) == 2
    assert "invalid service spec: (top): Value error, give exactly one of models" in (
        service.stderr()
    )


def test_the_documented_function_spec_is_valid(tmp_path: Path) -> None:
    page = (ROOT / "docs" / "runtime.md").read_text()
    (example,) = [b for b in re.findall(r"```json\n(.*?)```", page, re.S) if '"function"' in b and '"port"' in b]  # fmt: skip
    (tmp_path / "spec.json").write_text(example)
    spec = load_spec(tmp_path / "spec.json")
    assert spec.models is None
    assert spec.function is not None
    assert spec.function.handler == "checkout.handlers:handle"
    assert spec.function.env == {"CURRENCY": "EUR"}


def test_the_signal_stop_of_a_function_service_writes_its_telemetry(
    start_function: Any,
) -> None:
    service = start_function(ASYNC, telemetry={"flushSeconds": 120})
    for i in range(3):
        assert invoke(service, {"items": ITEMS}, f"s-{i}").status_code == 200
    service.process.send_signal(signal.SIGINT)
    assert service.process.wait(30) == 0
    records = read_telemetry(service)
    assert [(r["request_id"], r["model"], r["status"]) for r in records] == [
        (f"s-{i}", ASYNC, 200) for i in range(3)
    ]

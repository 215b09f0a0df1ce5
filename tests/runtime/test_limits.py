"""The limits of a service process: concurrency (429), timeout (504), memory (exit 137)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from tests.runtime.conftest import pickled_model, rows
from tests.runtime.models import MemoryHog, SlowModel

ROW = {"rows": rows(1, seed=3)}


async def _post_together(url: str, n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as client:
        return list(await asyncio.gather(*(client.post(url, json=ROW) for _ in range(n))))


def test_requests_beyond_the_concurrency_limit_get_429_with_retry_after(
    start: Any, tmp_path: Path
) -> None:
    slow = pickled_model(tmp_path / "slow.pkl", SlowModel(1.5), trusted=True)
    service = start([slow], concurrency=2, timeoutSeconds=30)
    responses = asyncio.run(_post_together(f"{service.url}/predict", 5))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 429, 429, 429]
    for refused in (r for r in responses if r.status_code == 429):
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["error"] == "too-many-requests"
        assert "2 requests are in flight" in refused.json()["message"]
    assert service.health()["inFlight"] == 0
    # The slots are free again: the next request is served.
    assert httpx.post(f"{service.url}/predict", json=ROW, timeout=30).status_code == 200


def test_a_request_past_the_timeout_gets_504_and_holds_its_slot_until_the_model_returns(
    start: Any, tmp_path: Path
) -> None:
    slow = pickled_model(tmp_path / "slow.pkl", SlowModel(2.0), trusted=True)
    service = start([slow], concurrency=1, timeoutSeconds=0.3)
    response = httpx.post(f"{service.url}/predict", json=ROW, timeout=30)
    assert response.status_code == 504
    assert response.json() == {
        "error": "timeout",
        "message": "no answer within 0.3 s",
        "requestId": response.headers["x-request-id"],
    }
    # The model call is still running: its slot is taken, so a second request is refused.
    assert service.health()["inFlight"] == 1
    assert httpx.post(f"{service.url}/predict", json=ROW).status_code == 429
    deadline = time.monotonic() + 10
    while service.health()["inFlight"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.health()["inFlight"] == 0


def test_past_the_memory_limit_the_process_exits_137_after_health_reported_the_peak(
    start: Any, tmp_path: Path
) -> None:
    limit = 700
    hog = pickled_model(tmp_path / "hog.pkl", MemoryHog(120), trusted=True)
    service = start([hog], memoryMb=limit, memoryCheckSeconds=0.02)
    peaks = [service.health()["memory"]["peakMb"]]
    for _ in range(40):  # at most 40 × 120 MB: it must stop well before
        try:
            httpx.post(f"{service.url}/predict", json=ROW, timeout=10)
            time.sleep(0.2)  # let the memory watch sample
            peaks.append(service.health()["memory"]["peakMb"])
        except httpx.TransportError:
            break
        if service.process.poll() is not None:
            break
    status = service.process.wait(30)
    assert status == 137
    assert f"exceeds the limit of {limit} MB; exiting with status 137" in service.stderr()
    assert len(peaks) >= 2
    assert peaks == sorted(peaks)  # the peak only grows
    assert peaks[-1] > peaks[0] + 100  # and /health saw it grow before the exit
    assert peaks[-1] <= limit + 120

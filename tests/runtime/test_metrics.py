"""``GET /metrics`` of a real service process, parsed as Prometheus parses it."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.runtime.conftest import launch, rows, service_spec, skops_model, train


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_count_answers_by_status_and_report_limits(tmp_path: Path) -> None:
    entries = [skops_model(tmp_path / "m.skops", train(seed=1))]
    service = launch(tmp_path, service_spec(tmp_path, entries, concurrency=4))
    try:
        for i in range(5):
            ok = httpx.post(f"{service.url}/predict", json={"rows": rows(2, seed=i)})
            assert ok.status_code == 200
        for _ in range(2):
            bad = httpx.post(f"{service.url}/predict", content=b"{not json")
            assert bad.status_code == 400
        samples = scrape(service.url)
    finally:
        assert service.stop() == 0
    spec = service.spec
    who = (("deployment", spec["deployment"]), ("environment", spec["environment"]))
    # Requests by status: the readiness probe's request too, if the launcher sent one.
    ok_count = samples[("alignops_runtime_requests_total", (*who, ("status", "200")))]
    assert ok_count >= 5
    assert samples[("alignops_runtime_requests_total", (*who, ("status", "400")))] == 2
    count = samples[("alignops_runtime_request_duration_seconds_count", who)]
    assert count == ok_count + 2
    assert samples[("alignops_runtime_request_duration_seconds_sum", who)] > 0
    assert samples[("alignops_runtime_concurrency_limit", who)] == 4
    assert samples[("alignops_runtime_in_flight", who)] == 0
    limit = samples[("alignops_runtime_memory_limit_bytes", who)]
    assert limit == spec["memoryMb"] * 1024 * 1024
    assert 0 < samples[("alignops_runtime_memory_rss_bytes", who)] < limit
    info = [k for k in samples if k[0] == "alignops_runtime_info"]
    assert len(info) == 1 and ("revision", spec["revision"]) in info[0][1]

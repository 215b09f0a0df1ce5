"""The controller's Prometheus metrics, scraped over real HTTP from a running
WebhookReceiver and read with prometheus-client's own parsers: a real controller syncing
a real config repository (a real service process), real webhooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from alignops import __version__
from alignops.reconcile.controller import Controller, TickOutcome
from alignops.reconcile.metrics import (
    SYNC_OUTCOMES,
    ControllerMetrics,
    controller_registry,
    renderer,
)
from alignops.reconcile.plan import Action
from alignops.reconcile.providers import Health
from alignops.reconcile.sync import SyncResult
from alignops.reconcile.webhooks import WebhookReceiver, github_signature
from tests.reconcile.conftest import Delivery

SECRET = b"a webhook secret for the metrics test"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str, accept: str | None = None) -> httpx.Response:
    headers = {"Accept": accept} if accept else {}
    response = httpx.get(f"{url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response


def samples(text: str) -> Samples:
    """(sample name, sorted labels) → value, as prometheus-client parses the text."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[name, tuple(sorted(labels.items()))]


def push(url: str, branch: str, *, secret: bytes = SECRET) -> int:
    body = json.dumps({"ref": f"refs/heads/{branch}", "after": "a" * 40}).encode()
    headers = {
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": github_signature(secret, body),
        "Content-Type": "application/json",
    }
    return httpx.post(f"{url}/hooks/github", content=body, headers=headers).status_code


@pytest.fixture
def served(delivery: Delivery) -> Iterator[tuple[Controller, WebhookReceiver, list[TickOutcome]]]:
    """A controller for staging whose metrics a receiver on a free port serves; a sync
    of it was cut short before it started (its process was killed)."""
    delivery.audit.append(
        "sync.started", "staging", {"environment": "staging", "revision": delivery.repo.git.head()}
    )
    metrics = ControllerMetrics()
    reports: list[TickOutcome] = []
    controller = Controller(
        delivery.repo.git,
        audit=delivery.audit,
        context=delivery.context,
        environments=("staging",),
        report=metrics.reporting(reports.append),
    )
    metrics.watch(controller)
    metrics.recovered(controller.start())
    receiver = WebhookReceiver(
        "127.0.0.1",
        0,
        secret=SECRET,
        on_push=metrics.counting_pushes(controller.wake),
        on_rejected=metrics.counting_rejections(controller.rejected),
        health=controller.health,
        metrics=renderer(controller_registry(metrics)),
    )
    receiver.start()
    try:
        yield controller, receiver, reports
    finally:
        receiver.stop()


def test_metrics_follow_ticks_syncs_services_recovery_and_webhooks(
    served: tuple[Controller, WebhookReceiver, list[TickOutcome]],
) -> None:
    controller, receiver, reports = served

    before = scrape(receiver.url)
    assert before.headers["Content-Type"] == CONTENT_TYPE_PLAIN_0_0_4
    found = samples(before.text)
    assert value(found, "alignops_controller_ticks_total") == 0
    assert not any(name.startswith("alignops_controller_last_tick") for name, _ in found)
    for outcome in SYNC_OUTCOMES:  # every outcome is there from the start, at 0
        assert (
            value(found, "alignops_controller_syncs_total", environment="staging", outcome=outcome)
            == 0
        )
    assert (
        value(found, "alignops_controller_interrupted_syncs_recovered_total", environment="staging")
        == 1
    )
    assert value(found, "alignops_build_info", version=__version__) == 1
    assert found["process_resident_memory_bytes", ()] > 0

    (first,) = controller.tick()  # a full sync: starts the service
    (second,) = controller.tick()  # nothing changed: in sync, nothing recorded
    assert (first.outcome, second.outcome) == ("synced", "in sync")
    assert reports == [first, second]
    assert push(receiver.url, "main") == 202  # accepted: wakes the loop
    assert push(receiver.url, "feature") == 202  # ignored: no environment watches it
    assert push(receiver.url, "main", secret=b"guessed") == 401  # rejected
    gitlab = httpx.post(
        f"{receiver.url}/hooks/gitlab",
        content=b"{}",
        headers={"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "guessed"},
    )
    assert gitlab.status_code == 401

    found = samples(scrape(receiver.url).text)

    assert value(found, "alignops_controller_ticks_total") == 2
    assert controller.last_tick is not None
    assert value(found, "alignops_controller_last_tick_timestamp_seconds") == (
        controller.last_tick.timestamp()
    )
    syncs = {
        outcome: value(
            found, "alignops_controller_syncs_total", environment="staging", outcome=outcome
        )
        for outcome in SYNC_OUTCOMES
    }
    assert syncs == {**dict.fromkeys(SYNC_OUTCOMES, 0.0), "synced": 1.0, "in_sync": 1.0}
    # The last sync is the first tick's: the in-sync tick was no sync.
    assert (
        value(found, "alignops_controller_last_sync_duration_seconds", environment="staging")
        == first.seconds
    )
    assert value(
        found, "alignops_controller_last_sync_timestamp_seconds", environment="staging"
    ) == (first.at.timestamp() + first.seconds)
    health = {
        state: value(found, "alignops_controller_services", environment="staging", health=state)
        for state in ("healthy", "unhealthy", "drifted", "skipped")
    }
    assert health == {"healthy": 1, "unhealthy": 0, "drifted": 0, "skipped": 0}
    webhooks = {
        (source, result): value(
            found, "alignops_controller_webhook_requests_total", source=source, result=result
        )
        for source in ("github", "gitlab")
        for result in ("accepted", "ignored", "rejected")
    }
    assert webhooks == {
        ("github", "accepted"): 1,
        ("github", "ignored"): 1,
        ("github", "rejected"): 1,
        ("gitlab", "accepted"): 0,
        ("gitlab", "ignored"): 0,
        ("gitlab", "rejected"): 1,
    }
    # Bounded labels only: no revision, pid, request or address is ever a label value.
    revision = controller.last["staging"].revision
    assert revision is not None
    assert all(
        revision not in v and "127.0.0.1" not in v for (_, labels) in found for _, v in labels
    )


def test_openmetrics_is_served_when_the_scraper_asks_for_it(
    served: tuple[Controller, WebhookReceiver, list[TickOutcome]],
) -> None:
    controller, receiver, _ = served
    controller.tick()

    answer = scrape(receiver.url, "application/openmetrics-text; version=1.0.0; charset=utf-8")

    assert answer.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert answer.text.endswith("# EOF\n")
    families = {f.name: f for f in openmetrics_families(answer.text)}
    assert families["alignops_controller_syncs"].type == "counter"
    assert families["alignops_controller_services"].type == "gauge"
    assert families["alignops_build"].type == "info"
    ticks = families["alignops_controller_ticks"].samples
    assert [(s.name, s.value) for s in ticks if s.name.endswith("_total")] == [
        ("alignops_controller_ticks_total", 1)
    ]


def test_without_a_renderer_metrics_is_not_found() -> None:
    receiver = WebhookReceiver(
        "127.0.0.1",
        0,
        secret=None,
        on_push=lambda push: [],
        on_rejected=lambda *args: None,
        health=lambda: {"status": "ok"},
    )
    receiver.start()
    try:
        answer = httpx.get(f"{receiver.url}/metrics")
        assert (answer.status_code, answer.json()) == (404, {"error": "no such endpoint /metrics"})
    finally:
        receiver.stop()
    metrics = ControllerMetrics()
    served = WebhookReceiver(
        "127.0.0.1",
        0,
        secret=None,
        on_push=lambda push: [],
        on_rejected=lambda *args: None,
        health=lambda: {"status": "ok"},
        metrics=renderer(controller_registry(metrics, process=False)),
    )
    served.start()
    try:
        assert httpx.post(f"{served.url}/metrics", content=b"").status_code == 405
        found = samples(scrape(served.url).text)
        assert not any(name.startswith("process_") for name, _ in found)
        assert not any(name == "alignops_controller_ticks_total" for name, _ in found)
    finally:
        served.stop()


# -- what a tick's result says about the services ------------------------------------------


def outcome(outcome: str, result: SyncResult | None, seconds: float = 1.5) -> TickOutcome:
    at = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    return TickOutcome("staging", "interval", "r1", outcome, at, seconds, result)


def result(
    outcome: Any,
    health: dict[str, bool],
    skipped: tuple[str, ...] = (),
    drifted: tuple[str, ...] = (),
) -> SyncResult:
    at = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    return SyncResult(
        "staging",
        "r1",
        outcome,
        "pass",
        at,
        at,
        skipped=dict.fromkeys(skipped, "not supported"),
        health={name: Health(ok, "ok" if ok else "not answering") for name, ok in health.items()},
        drift=tuple(Action("create", name, "not running", drift=True) for name in drifted),
    )


def services(metrics: ControllerMetrics) -> dict[str, float]:
    render = renderer(controller_registry(metrics, process=False))
    found = samples(render("")[0].decode())
    return {
        dict(labels)["health"]: v
        for (name, labels), v in found.items()
        if name == "alignops_controller_services"
    }


def test_services_by_health_keep_the_last_sync_through_refusals_and_errors() -> None:
    metrics = ControllerMetrics()
    metrics.observe(
        outcome(
            "failed",
            result("failed", {"a": True, "b": False, "c": True}, skipped=("ServerlessFunction/f",)),
        )
    )
    first = {"healthy": 2, "unhealthy": 1, "drifted": 0, "skipped": 1}
    assert services(metrics) == first

    metrics.observe(outcome("refused", result("refused", {})))  # nothing was touched
    metrics.observe(outcome("error", None))  # nothing was seen
    metrics.observe(outcome("in sync", None, seconds=0.01))
    assert services(metrics) == first

    metrics.observe(outcome("drifted", result("drifted", {"a": True, "b": False}, drifted=("b",))))
    assert services(metrics) == {"healthy": 1, "unhealthy": 0, "drifted": 1, "skipped": 0}

    metrics.observe(outcome("synced", result("synced", {"a": True})))
    assert services(metrics) == {"healthy": 1, "unhealthy": 0, "drifted": 0, "skipped": 0}

"""Failing routes: retried with backoff, reported, never raising, never stopping others."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta

import pytest

from alignops.notify import MAX_BACKOFF_SECONDS, backoff_delay
from alignops.testing.http_capture import HttpCapture
from alignops.testing.smtp_capture import SmtpCapture

from .conftest import World, drift, settings


def webhook(name: str, address: str) -> str:
    return f"""\
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: {name}
spec:
  target: webhook://{address}/events
  match:
    severities: [warning, critical]
"""


def test_500_then_success_is_sent_on_the_retry_after_the_backoff(
    world: World, http_server: HttpCapture
) -> None:
    http_server.fail_next(1, status=500, body=b"upstream exploded")
    notifier = world.notifier(webhook("ops", http_server.address), settings(backoffSeconds=2))
    (row_id,) = notifier.enqueue(drift())

    first = notifier.dispatch()
    (retry,) = first.retrying
    assert retry.attempts == 1
    assert retry.error == (
        f"route ops (webhook://{http_server.address}/events): attempt 1: "
        "HTTP 500 Internal Server Error: upstream exploded"
    )
    assert retry.next_attempt_at == (world.clock.now + timedelta(seconds=2)).isoformat(
        timespec="microseconds"
    )

    assert notifier.dispatch().counts() == dict.fromkeys(
        ("sent", "retrying", "failed", "held", "waiting"), 0
    )  # not due yet
    world.clock.advance(2)
    (sent,) = notifier.dispatch().sent

    assert (sent.id, sent.attempts) == (row_id, 2)
    assert [r.status for r in http_server.requests] == [500, 200]
    row = notifier.outbox.get(row_id)
    assert row is not None
    assert (row.status, row.attempts, row.sent_at) == (
        "sent",
        2,
        world.clock.now.isoformat(timespec="microseconds"),
    )
    assert world.actions() == ["notification.sent"]
    assert world.audit.records()[0].data == {
        "id": row_id,
        "route": "ops",
        "target": f"webhook://{http_server.address}/events",
        "kind": "firing",
        "dedupKey": "alert:7:2026-03-02T08:00:00+00:00",
        "attempts": 2,
    }


def test_a_timeout_is_retried(world: World, http_server: HttpCapture) -> None:
    http_server.stall_next(1, seconds=30)
    notifier = world.notifier(
        webhook("ops", http_server.address), settings(timeoutSeconds=0.3, backoffSeconds=5)
    )
    notifier.enqueue(drift())

    (retry,) = notifier.dispatch().retrying
    assert retry.error is not None
    assert retry.error.endswith("no answer within 0.3 s (timeout)")
    world.clock.advance(5)
    (sent,) = notifier.dispatch().sent
    assert sent.attempts == 2
    assert [r.stalled for r in http_server.requests] == [True, False]


def test_a_refused_connection_is_retried(world: World) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    notifier = world.notifier(webhook("ops", address))
    notifier.enqueue(drift())
    (retry,) = notifier.dispatch().retrying
    assert "cannot connect" in (retry.error or "")


@pytest.mark.parametrize(
    ("code", "text"), [(550, "5.7.1 relaying denied"), (451, "4.3.0 try later")]
)
def test_an_smtp_refusal_is_retried(
    world: World, smtp_server: SmtpCapture, code: int, text: str
) -> None:
    smtp_server.refuse_next(1, code=code, text=text)
    notifier = world.notifier(
        notification_settings=settings(smtp={"host": smtp_server.host, "port": smtp_server.port})
    )
    notifier.enqueue(drift(), targets=["mailto:ml-oncall@example.com"])

    (retry,) = notifier.dispatch().retrying
    assert retry.error == (
        "route mailto:ml-oncall@example.com (mailto:ml-oncall@example.com): attempt 1: "
        f"SMTP server {smtp_server.host}:{smtp_server.port} answered {code} {text}"
    )
    world.clock.advance(2)
    (sent,) = notifier.dispatch().sent
    assert sent.attempts == 2
    assert len(smtp_server.refused) == 1
    assert len(smtp_server.messages) == 1


def test_a_failing_route_does_not_stop_another(world: World) -> None:
    with HttpCapture() as broken, HttpCapture() as healthy:
        broken.fail_next(10, status=503)
        notifier = world.notifier(
            webhook("a-broken", broken.address) + "---\n" + webhook("b-healthy", healthy.address)
        )
        notifier.enqueue(drift())
        notifier.enqueue(drift(dedup_key="alert:8:w"), targets=["log"])

        report = notifier.dispatch()

        assert [d.route for d in report.retrying] == ["a-broken", "a-broken"]
        assert sorted(d.route for d in report.sent) == ["b-healthy", "b-healthy", "log"]
        assert len(healthy.requests) == 2


def test_after_max_attempts_the_row_is_failed_and_audited(
    world: World, http_server: HttpCapture
) -> None:
    http_server.fail_next(10, status=502)
    notifier = world.notifier(
        webhook("ops", http_server.address), settings(maxAttempts=4, backoffSeconds=2)
    )
    (row_id,) = notifier.enqueue(drift())

    waits = []
    for _ in range(3):
        (retry,) = notifier.dispatch().retrying
        assert retry.next_attempt_at is not None
        waits.append((datetime.fromisoformat(retry.next_attempt_at) - world.clock.now).seconds)
        world.clock.advance(waits[-1])
    (failed,) = notifier.dispatch().failed

    assert waits == [2, 4, 8]
    assert failed.attempts == 4
    assert failed.error is not None
    assert "attempt 4: HTTP 502" in failed.error
    row = notifier.outbox.get(row_id)
    assert row is not None
    assert (row.status, row.attempts) == ("failed", 4)
    assert world.actions() == ["notification.failed"]
    record = world.audit.records()[0]
    assert record.subject == "ops"
    assert record.data["attempts"] == 4
    assert record.data["error"] == failed.error
    world.clock.advance(3600)
    assert notifier.dispatch().counts()["failed"] == 0  # reported once, not retried
    assert len(http_server.requests) == 4


def test_backoff_doubles_and_is_capped_at_an_hour() -> None:
    assert [backoff_delay(2.0, n) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert backoff_delay(2.0, 12) == MAX_BACKOFF_SECONDS == 3600.0
    assert backoff_delay(2.0, 10_000) == 3600.0


def test_a_route_removed_from_the_config_fails_its_pending_rows(
    world: World, http_server: HttpCapture
) -> None:
    http_server.fail_next(1)
    world.notifier(webhook("ops", http_server.address)).enqueue(drift())
    world.notifier(webhook("ops", http_server.address)).dispatch()
    world.clock.advance(60)

    (failed,) = world.notifier().dispatch().failed

    assert failed.error == (
        "route ops: no AlertRoute of that name exists any more; the notification is not sent"
    )
    assert world.actions() == ["notification.failed"]


def test_two_dispatchers_do_not_send_the_same_row(world: World, http_server: HttpCapture) -> None:
    first = world.notifier(webhook("ops", http_server.address))
    second = world.notifier(webhook("ops", http_server.address))
    first.enqueue(drift())
    (row,) = first.outbox.due(world.clock.now.isoformat(timespec="microseconds"), limit=10)

    assert first.outbox.claim(row, lease_until="2026-03-02T09:05:00.000000+00:00")
    assert not second.outbox.claim(row, lease_until="2026-03-02T09:05:00.000000+00:00")
    assert second.dispatch().counts()["sent"] == 0  # claimed: not due for another dispatcher
    assert http_server.requests == []

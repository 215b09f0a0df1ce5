"""rateLimit.maxPerHour: over the limit, due rows are held (not lost) until the hour
allows; resolve notices count too. The clock is moved, nothing sleeps."""

from __future__ import annotations

from datetime import datetime, timedelta

from alignops.testing.http_capture import HttpCapture

from .conftest import World, drift

LIMITED = """\
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: ops
spec:
  target: webhook://{address}/events
  match:
    severities: [warning]
  rateLimit:
    maxPerHour: 2
"""


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def test_over_the_limit_rows_are_held_and_released_when_the_hour_allows(
    world: World, http_server: HttpCapture
) -> None:
    notifier = world.notifier(LIMITED.format(address=http_server.address))
    start = world.clock.now
    notifier.enqueue(drift(dedup_key="w1"))
    world.clock.advance(600)
    notifier.enqueue(drift(dedup_key="w2"))
    notifier.enqueue(drift(dedup_key="w3"))
    notifier.enqueue(
        drift(kind="resolved", title="Resolved: Data drift on employment-fair", dedup_key="r1")
    )

    first = notifier.dispatch()
    assert [d.dedup_key for d in first.sent] == ["w1", "w2"]
    assert [d.dedup_key for d in first.held] == ["w3", "r1"]
    assert first.held_by_route() == {"ops": 2}
    assert {d.next_attempt_at for d in first.held} == {iso(start + timedelta(minutes=70))}

    world.clock.advance(30 * 60)  # 09:40: both sends are within the hour
    assert (
        sum(
            world.notifier(LIMITED.format(address=http_server.address)).dispatch().counts().values()
        )
        == 0
    )
    held = notifier.outbox.rows(status="pending")
    assert {r.next_attempt_at for r in held} == {iso(start + timedelta(minutes=70))}
    world.clock.advance(30 * 60)  # 10:10: the 09:10 sends leave the window
    second = notifier.dispatch()
    assert [d.dedup_key for d in second.sent] == ["w3", "r1"]
    assert second.held == ()

    assert [r.json()["dedupKey"] for r in http_server.requests] == ["w1", "w2", "w3", "r1"]
    assert notifier.outbox.counts() == {"sent": 4}


def test_held_rows_stay_pending_and_lose_no_attempt(world: World, http_server: HttpCapture) -> None:
    notifier = world.notifier(LIMITED.format(address=http_server.address))
    for key in ("a", "b", "c"):
        notifier.enqueue(drift(dedup_key=key))
    (held,) = notifier.dispatch().held

    row = notifier.outbox.get(held.id)
    assert row is not None
    assert (row.status, row.attempts, row.last_error) == ("pending", 0, None)
    assert len(http_server.requests) == 2


def test_each_route_has_its_own_limit(world: World) -> None:
    with HttpCapture() as one, HttpCapture() as two:
        text = (
            LIMITED.format(address=one.address)
            + "---\n"
            + LIMITED.format(address=two.address).replace("name: ops", "name: ops-two")
        )
        notifier = world.notifier(text)
        for key in ("a", "b", "c"):
            notifier.enqueue(drift(dedup_key=key))
        report = notifier.dispatch()
        assert report.held_by_route() == {"ops": 1, "ops-two": 1}
        assert (len(one.requests), len(two.requests)) == (2, 2)


def test_a_storm_on_one_route_does_not_keep_another_waiting(world: World) -> None:
    with HttpCapture() as busy, HttpCapture() as quiet:
        text = LIMITED.format(address=busy.address).replace("maxPerHour: 2", "maxPerHour: 1")
        text += "---\n" + LIMITED.format(address=quiet.address).replace(
            "name: ops", "name: quiet"
        ).replace("severities: [warning]", "severities: [critical]")
        notifier = world.notifier(text)
        for key in ("a", "b", "c", "d", "e"):
            notifier.enqueue(drift(dedup_key=key))
        notifier.enqueue(drift(dedup_key="page", severity="critical"))

        first = notifier.dispatch(limit=3)  # reaches a, b, c only
        second = notifier.dispatch(limit=3)  # held rows are not due: d, e, page

        assert ([d.dedup_key for d in first.sent], len(first.held)) == (["a"], 2)
        assert ([d.dedup_key for d in second.sent], len(second.held)) == (["page"], 2)
        assert len(quiet.requests) == 1

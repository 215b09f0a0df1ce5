"""The monitor's tick end to end: real telemetry segments, real windows, real Slack and
webhook receivers on loopback. An alert arrives once per window and route while the
drift lasts, a resolve notice when it ends, a silence holds it until it expires, and a
failing route neither crashes the tick nor loses the alert (decision 0030)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from alignops.monitor.alerts import iso
from alignops.store.schema import alerts
from tests.monitor.alerting_world import (
    HOUR,
    START,
    World,
    world_fixture,  # noqa: F401  (the `world` fixture)
)


def _windows_of(posts: list[dict[str, object]]) -> list[str]:
    """The window each Slack post is about (from its Window field)."""
    out = []
    for post in posts:
        fields = [f["text"] for block in post["blocks"] for f in block.get("fields", [])]  # type: ignore[attr-defined]
        (window,) = [f.split("\n", 1)[1] for f in fields if f.startswith("*Window*")]
        out.append(window)
    return out


def test_alert_arrives_once_per_window_and_route_and_resolves_once(world: World) -> None:
    monitor = world.monitor()
    other = world.monitor()  # a second monitor on the same database (server + CLI)
    world.traffic(0)
    world.traffic(1, shift=2.0)
    world.traffic(2, shift=2.0)
    # Window 2 is still open: only windows 0 and 1 are judged, however many ticks run.
    for minutes in (0, 5, 30, 59):
        world.tick(monitor, START + 2 * HOUR + timedelta(minutes=minutes))
        world.tick(other)
    assert len(world.slack.requests) == 1
    assert len(world.webhook.requests) == 1
    (alert,) = monitor.alerts.find(state="firing")
    assert alert.first_window == START + HOUR
    # Window 2 closes: one more notification per route, however many ticks.
    for minutes in (1, 10, 50):
        world.tick(monitor, world.after(2) + timedelta(minutes=minutes))
        world.tick(other)
    assert _windows_of(world.slack_posts()) == [
        "2026-01-05 11:00–12:00 UTC",
        "2026-01-05 12:00–13:00 UTC",
    ]
    assert [p["details"]["window"] for p in world.webhook_posts()] == [
        iso(START + HOUR),
        iso(START + 2 * HOUR),
    ]
    # The drift ends: one resolve notice per route.
    world.traffic(3)
    for minutes in (1, 2, 30):
        world.tick(monitor, world.after(3) + timedelta(minutes=minutes))
        world.tick(other)
    kinds = Counter((row["route"], row["kind"]) for row in world.outbox())
    assert kinds == {
        ("ml-alerts", "firing"): 2,
        ("risk-webhook", "firing"): 2,
        ("ml-alerts", "resolved"): 1,
        ("risk-webhook", "resolved"): 1,
    }
    assert all(row["status"] == "sent" for row in world.outbox())
    assert len(world.slack.requests) == 3 and len(world.webhook.requests) == 3
    resolved = monitor.alerts.get(alert.id)
    assert resolved.state == "resolved"
    assert resolved.resolved_window == START + 3 * HOUR
    assert [w["window"] for w in resolved.windows] == [iso(START + HOUR), iso(START + 2 * HOUR)]
    assert world.webhook_posts()[-1]["kind"] == "resolved"
    # One alert only, and every transition in the audit log once.
    with world.db.transaction() as conn:
        assert conn.execute(alerts.select()).fetchall().__len__() == 1
    actions = Counter(r.action for r in world.audit.records(action="alert.*"))
    assert actions == {"alert.opened": 1, "alert.updated": 1, "alert.resolved": 1}


def test_drift_that_comes_back_opens_a_new_alert(world: World) -> None:
    monitor = world.monitor()
    for window, shift in enumerate((2.0, 0.0, 2.0)):
        world.traffic(window, shift=shift)
    world.tick(monitor, world.after(2))
    first, second = sorted(monitor.alerts.find(state=None), key=lambda a: a.id)
    assert (first.state, first.first_window, first.resolved_window) == (
        "resolved",
        START,
        START + HOUR,
    )
    assert (second.state, second.first_window) == ("firing", START + 2 * HOUR)
    kinds = [
        (row["dedup_key"], row["kind"]) for row in world.outbox() if row["route"] == "ml-alerts"
    ]
    assert kinds == [
        (f"alert:{first.id}:{iso(START)}", "firing"),
        (f"alert:{first.id}:resolved", "resolved"),
        (f"alert:{second.id}:{iso(START + 2 * HOUR)}", "firing"),
    ]


def test_grouping_names_every_drifted_feature_in_one_notification(world: World) -> None:
    monitor = world.monitor()
    world.traffic(0, shift=2.0, shift_x2=-1.5)
    report = world.tick(monitor, world.after(0))
    assert report.counts()["opened"] == 1
    (alert,) = monitor.alerts.find()
    (window,) = alert.windows
    assert set(window["over"]) == {"x1", "x2"}
    assert all(v > 0.1 for v in window["over"].values())
    (post,) = world.webhook_posts()
    assert set(post["details"]["over"]) == {"x1", "x2"}
    assert "x1" in post["fields"]["features"] and "x2" in post["fields"]["features"]
    (slack,) = world.slack_posts()
    assert "x1" in str(slack) and "x2" in str(slack)


def test_silence_holds_notifications_until_it_expires(world: World) -> None:
    monitor = world.monitor()
    for window in range(4):
        world.traffic(window, shift=2.0)
    world.tick(monitor, world.after(0))
    assert len(world.slack.requests) == 1
    silence = monitor.silences.create(
        {"deployment": "scorer-api", "metric": "psi"}, timedelta(minutes=90), comment="retraining"
    )
    assert silence.expires_at == world.after(0) + timedelta(minutes=90)
    world.tick(monitor, world.after(1))  # silenced: the alert moves on, nobody is told
    world.tick(monitor, world.after(1) + timedelta(minutes=20))
    assert len(world.slack.requests) == 1 and len(world.webhook.requests) == 1
    (alert,) = monitor.alerts.find()
    assert alert.last_window == START + HOUR
    (updated,) = world.audit.records(action="alert.updated")
    assert updated.data["silencedBy"] == [silence.id]
    world.tick(monitor, world.after(2))  # expired: the next judged window notifies again
    assert _windows_of(world.slack_posts()) == [
        "2026-01-05 10:00–11:00 UTC",
        "2026-01-05 12:00–13:00 UTC",
    ]
    assert monitor.alerts.get(alert.id).details["windowCount"] == 3
    # A silence ended early stops holding at once.
    again = monitor.silences.create({"rule": alert.rule}, timedelta(hours=5))
    monitor.silences.end(again.id)
    world.tick(monitor, world.after(3))
    assert len(world.slack.requests) == 3
    assert [r.action for r in world.audit.records(action="silence.*")] == [
        "silence.ended",
        "silence.created",
        "silence.created",
    ]


def test_a_failing_route_is_retried_and_the_alert_is_not_lost(world: World) -> None:
    monitor = world.monitor()
    world.traffic(0, shift=2.0)
    world.slack.fail_next(1, status=500)
    report = world.tick(monitor, world.after(0))
    assert report.counts()["opened"] == 1
    assert [d.route for d in report.dispatch.retrying] == ["ml-alerts"]
    assert [d.route for d in report.dispatch.sent] == ["risk-webhook"]
    # Before the backoff (60 s) nothing is sent again; after it, it is.
    assert (
        world.tick(monitor, world.after(0) + timedelta(seconds=30)).dispatch.counts()["sent"] == 0
    )
    later = world.tick(monitor, world.after(0) + timedelta(seconds=61))
    assert [d.route for d in later.dispatch.sent] == ["ml-alerts"]
    assert len(world.slack.requests) == 2  # the 500, then the retry
    assert world.slack.requests[-1].status == 200
    assert monitor.alerts.find()[0].firing


def test_a_route_that_keeps_failing_is_reported_and_the_tick_goes_on(world: World) -> None:
    monitor = world.monitor()
    world.traffic(0, shift=2.0)
    world.traffic(1, shift=2.0)
    world.slack.fail_next(10, status=500)
    at = world.after(0)
    for _ in range(4):  # maxAttempts 3: the third failure is final
        world.tick(monitor, at)
        at += timedelta(minutes=10)
    failed = [r for r in world.outbox() if r["status"] == "failed"]
    assert [r["route"] for r in failed] == ["ml-alerts"]
    assert "attempt 3" in failed[0]["last_error"]
    (record,) = world.audit.records(action="notification.failed")
    assert record.data["route"] == "ml-alerts"
    # The next window is judged and notified as if nothing happened.
    report = world.tick(monitor, world.after(1))
    assert report.counts()["updated"] == 1
    assert world.outbox()[-1]["dedup_key"].endswith(iso(START + HOUR))


def test_a_target_without_a_route_is_a_problem_not_a_crash(world: World) -> None:
    world.configure(
        extra={
            "policies/scorer-watch.yaml": (world.repo.path / "policies/scorer-watch.yaml")
            .read_text()
            .replace(
                "alertTarget: slack://#ml-alerts\n      severity",
                "alertTarget: slack://#nowhere\n      severity",
            )
        }
    )
    monitor = world.monitor()
    world.traffic(0, shift=2.0)
    report = world.tick(monitor, world.after(0))
    assert report.counts()["opened"] == 1
    assert any("slack://#nowhere" in p for p in report.problems)
    assert len(world.webhook.requests) == 1  # the route whose match takes it still hears


def test_too_few_requests_are_shown_not_judged(world: World) -> None:
    monitor = world.monitor()
    world.traffic(0, shift=2.0, requests=10)
    report = world.tick(monitor, world.after(0))
    assert report.counts()["judged"] == 0
    assert report.not_judged >= 1
    assert monitor.alerts.find(state=None) == []
    status = monitor.status(update=False)
    (deployment,) = status["environments"][1]["deployments"]
    (window,) = deployment["windows"]
    assert (window["state"], window["requests"]) == ("too few requests", 10)


def test_ack_records_who_and_the_alert_still_resolves(world: World) -> None:
    monitor = world.monitor()
    world.traffic(0, shift=2.0)
    world.tick(monitor, world.after(0))
    (alert,) = monitor.alerts.find()
    acked = monitor.alerts.ack(alert.id)
    assert acked.acked_by == "pytest" and acked.acked_at == world.after(0)
    (record,) = world.audit.records(action="alert.acked")
    assert record.actor == "pytest" and record.data["alert"] == alert.id
    world.traffic(1)
    world.tick(monitor, world.after(1))
    done = monitor.alerts.get(alert.id)
    assert done.state == "resolved" and done.acked_by == "pytest"


def test_an_alert_whose_rule_is_removed_resolves(world: World) -> None:
    monitor = world.monitor()
    world.traffic(0, shift=2.0)
    world.tick(monitor, world.after(0))
    (alert,) = monitor.alerts.find()
    (world.repo.path / "policies/scorer-watch.yaml").unlink()
    revision = world.repo.commit("stop watching")
    world.tick(monitor, world.after(0) + timedelta(minutes=5))
    done = monitor.alerts.get(alert.id)
    assert done.state == "resolved"
    assert revision[:12] in done.details["resolvedReason"]
    assert world.webhook_posts()[-1]["kind"] == "resolved"


def test_fairness_on_live_predictions(world: World) -> None:
    monitor = world.monitor()
    world.traffic(0, bias=True)
    world.tick(monitor, world.after(0))
    (alert,) = monitor.alerts.find()
    assert alert.rule == "scorer-watch/bias-detection" and alert.metric == "parity"
    assert alert.windows[0]["over"] == {"group": 1.0}
    assert "group" in world.webhook_posts()[0]["fields"]["attributes"]

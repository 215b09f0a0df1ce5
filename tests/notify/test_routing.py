"""Which routes a notification goes to, once per route and dedup key."""

from __future__ import annotations

import json

from alignops.testing.http_capture import HttpCapture
from alignops.testing.smtp_capture import SmtpCapture

from .conftest import World, drift, settings

CRITICAL_ONLY = """\
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: pager
spec:
  target: webhook://{address}/pager
  match:
    severities: [critical]
---
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: fairness-team
spec:
  target: webhook://{address}/fairness
  match:
    labels:
      metric: parity
---
apiVersion: alignops.dev/v1alpha1
kind: AlertRoute
metadata:
  name: drift-channel
spec:
  target: webhook://{address}/drift
"""


def test_enqueueing_twice_sends_once(world: World, http_server: HttpCapture) -> None:
    notifier = world.notifier(CRITICAL_ONLY.format(address=http_server.address))
    target = f"webhook://{http_server.address}/drift"
    first = notifier.enqueue(drift(), targets=[target])
    second = notifier.enqueue(drift(), targets=[target])

    assert len(first) == 1
    assert (list(second), second.existing) == ([], tuple(first))
    notifier.dispatch()
    third = notifier.enqueue(drift(), targets=[target])  # after it was sent, too
    notifier.dispatch()

    assert (list(third), third.existing) == ([], tuple(first))
    assert [r.path for r in http_server.requests] == ["/drift"]
    assert notifier.outbox.counts() == {"sent": 1}


def test_routes_by_target_and_by_match(world: World, http_server: HttpCapture) -> None:
    notifier = world.notifier(CRITICAL_ONLY.format(address=http_server.address))

    notifier.enqueue(drift(dedup_key="a"))  # warning, psi, no target: nobody
    notifier.enqueue(drift(dedup_key="b", severity="critical"))  # pager
    notifier.enqueue(drift(dedup_key="c", labels={"metric": "parity"}))  # fairness-team
    notifier.enqueue(  # named target, whatever its match says
        drift(dedup_key="d"), targets=[f"webhook://{http_server.address}/pager"]
    )
    notifier.dispatch()

    sent = sorted((r.json()["dedupKey"], r.path) for r in http_server.requests)
    assert sent == [("b", "/pager"), ("c", "/fairness"), ("d", "/pager")]


def test_a_route_with_an_empty_match_is_not_a_catch_all(
    world: World, http_server: HttpCapture
) -> None:
    notifier = world.notifier(CRITICAL_ONLY.format(address=http_server.address))
    assert notifier.enqueue(drift(severity="info", labels={})) == []


def test_log_and_mailto_targets_need_no_route(world: World, smtp_server: SmtpCapture) -> None:
    smtp = {"host": smtp_server.host, "port": smtp_server.port}
    notifier = world.notifier(notification_settings=settings(smtp=smtp))
    ids = notifier.enqueue(drift(), targets=["log", "mailto:ml-oncall@example.com"])

    rows = sorted((r.route, r.target) for r in notifier.outbox.rows())
    assert len(ids) == 2
    assert rows == [
        ("log", "log"),
        ("mailto:ml-oncall@example.com", "mailto:ml-oncall@example.com"),
    ]
    report = notifier.dispatch()
    assert sorted(d.route for d in report.sent) == ["log", "mailto:ml-oncall@example.com"]
    assert smtp_server.messages[0].rcpt_tos == ("ml-oncall@example.com",)
    line = json.loads(world.log_stream.getvalue())
    assert line["route"] == "log"
    assert line["title"] == drift().title
    assert line["dedupKey"] == drift().dedup_key
    assert line["notification"] == min(ids)


def test_a_slack_target_without_a_route_is_reported_once_not_raised(world: World) -> None:
    notifier = world.notifier()
    first = notifier.enqueue(drift(), targets=["slack://#ai-ops-alerts", "log"])
    second = notifier.enqueue(drift(), targets=["slack://#ai-ops-alerts", "log"])

    assert len(first) == 1  # the log route
    assert [str(p) for p in first.problems] == [
        "slack://#ai-ops-alerts: no AlertRoute declares target slack://#ai-ops-alerts; add "
        "one with the secretRef that holds its incoming-webhook URL"
    ]
    assert second.problems == first.problems
    assert world.actions() == ["notification.unrouted"]
    record = world.audit.records()[0]
    assert record.data["target"] == "slack://#ai-ops-alerts"
    assert record.data["title"] == drift().title
    (row,) = notifier.outbox.rows(route="slack://#ai-ops-alerts")
    assert (row.status, row.attempts) == ("failed", 0)
    assert row.last_error == first.problems[0].reason


def test_an_unknown_target_is_reported(world: World) -> None:
    result = world.notifier().enqueue(drift(), targets=["pagerduty://ml"])
    assert list(result) == []
    assert [p.target for p in result.problems] == ["pagerduty://ml"]
    assert "unknown alert target" in result.problems[0].reason
    assert world.actions() == ["notification.unrouted"]


def test_a_route_with_an_unusable_target_is_reported_not_raised(world: World) -> None:
    notifier = world.notifier(
        "apiVersion: alignops.dev/v1alpha1\nkind: AlertRoute\nmetadata:\n  name: bad-port\n"
        "spec:\n  target: webhook://hooks.example.com:http/in\n"
    )
    result = notifier.enqueue(drift(), targets=["webhook://hooks.example.com:http/in"])
    assert list(result) == []
    assert [str(p) for p in result.problems] == [
        "webhook://hooks.example.com:http/in: AlertRoute bad-port: alert target "
        "'webhook://hooks.example.com:http/in' has an invalid port"
    ]


def test_routes_named_by_a_budget(world: World, http_server: HttpCapture) -> None:
    notifier = world.notifier(CRITICAL_ONLY.format(address=http_server.address))
    budget = drift(kind="budget", title="Budget ml-platform at 80 %", dedup_key="budget:1:80")
    result = notifier.enqueue(budget, routes=["drift-channel", "no-such-route"])
    notifier.dispatch()

    assert len(result) == 1
    assert [str(p) for p in result.problems] == [
        "no-such-route: no AlertRoute is named no-such-route"
    ]
    assert [(r.path, r.json()["kind"]) for r in http_server.requests] == [("/drift", "budget")]

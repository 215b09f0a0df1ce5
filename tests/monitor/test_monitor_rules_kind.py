"""``AlertRule`` on service metrics through the monitor: a latency threshold, and an
anomaly rule scored against the deployment's own recent windows."""

from __future__ import annotations

from tests.monitor.alerting_world import (
    START,
    World,
    world_fixture,  # noqa: F401  (the `world` fixture)
)

LATENCY = """\
apiVersion: alignops.dev/v1alpha1
kind: AlertRule
metadata:
  name: scorer-slow
spec:
  selector:
    deployments: [scorer-api]
  metric: p95
  threshold: 50
  severity: critical
  alertTarget: log
"""

ANOMALY = """\
apiVersion: alignops.dev/v1alpha1
kind: AlertRule
metadata:
  name: scorer-latency-anomaly
spec:
  selector:
    environments: [production]
    matchLabels: {team: risk}
  metric: anomaly:p95
  threshold: 4
  anomaly:
    window: 6
  alertTargets: [log]
"""


def test_a_latency_threshold_rule(world: World) -> None:
    world.configure(extra={"alerts/latency.yaml": LATENCY})
    monitor = world.monitor()
    world.traffic(0, latency_ms=20)
    world.traffic(1, latency_ms=120)
    world.tick(monitor, world.after(1))
    (alert,) = monitor.alerts.find()
    assert (alert.rule, alert.metric, alert.severity) == ("scorer-slow", "p95", "critical")
    assert alert.first_window == START + (1 * (world.after(1) - world.after(0)))
    assert alert.windows[0]["value"] > 100
    assert alert.details["source"] == "alerts/latency.yaml:1"
    line = world.log.getvalue()
    assert "scorer-slow" in line and "critical" in line


def test_an_anomaly_rule_fires_on_the_newest_window_only(world: World) -> None:
    world.configure(extra={"alerts/anomaly.yaml": ANOMALY})
    monitor = world.monitor()
    latencies = [10.0 + 0.4 * ((i * 7) % 5 - 2) for i in range(20)]  # 9.2 … 10.8
    for window, latency in enumerate(latencies):
        world.traffic(window, latency_ms=latency)
    report = world.tick(monitor, world.after(len(latencies) - 1))
    assert report.counts()["opened"] == 0  # warming up, then ordinary
    assert any("warming up" in note for note in report.notes)
    spike = len(latencies)
    world.traffic(spike, latency_ms=60.0)
    report = world.tick(monitor, world.after(spike))
    assert report.counts()["opened"] == 1
    (alert,) = monitor.alerts.find()
    assert alert.metric == "anomaly:p95" and alert.rule == "scorer-latency-anomaly"
    (window,) = alert.windows
    assert window["score"] >= 4 and window["value"] > 50 and window["baseline"] < 12
    world.traffic(spike + 1, latency_ms=10.0)
    world.tick(monitor, world.after(spike + 1))
    assert monitor.alerts.get(alert.id).state == "resolved"

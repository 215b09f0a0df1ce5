"""The monitor in ``alignops server``: the controller calls it after each tick (a
failure there is recorded and the loop goes on), and its state is exposed to
Prometheus by :class:`MonitorMetrics`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from alignops.monitor.metrics import MonitorMetrics
from alignops.reconcile.controller import Controller
from alignops.reconcile.providers import ProviderContext
from tests.monitor.alerting_world import (
    HOUR,
    World,
    world_fixture,  # noqa: F401  (the `world` fixture)
)


def test_the_controller_calls_the_hook_after_each_tick_and_survives_its_failure(
    world: World,
) -> None:
    calls: list[int] = []

    def after_tick() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("the monitor broke")

    logged: list[str] = []
    controller = Controller(
        world.repo.git,
        audit=world.audit,
        context=ProviderContext(world.state_dir, world.db),
        environments=("production",),
        after_tick=after_tick,
        log=logged.append,
    )
    controller.start()
    controller.tick()
    controller.tick()
    assert calls == [0, 1]
    assert controller.ticks == 2
    failed = [r.data for r in world.audit.records(action="controller.failed")]
    assert [(f["step"], f["message"]) for f in failed] == [("after-tick", "the monitor broke")]
    assert any("the monitor broke" in line for line in logged)


def test_server_once_runs_the_monitor_after_the_sync(world: World, cli: Any) -> None:
    world.start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 2 * HOUR
    world.traffic(0, shift=2.0)
    run = cli("server", "--once", "--env", "production", "--repo", str(world.repo.path))
    assert " monitor: " not in run.stdout  # stdout stays one line per environment
    monitor_lines = [line for line in run.stderr.splitlines() if " monitor: " in line]
    assert len(monitor_lines) == 1, run.stdout + run.stderr
    assert "1 opened" in monitor_lines[0]
    assert len(world.slack.requests) == 1


def _samples(registry: CollectorRegistry) -> dict[str, float]:
    out = {}
    for family in registry.collect():
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


def test_metrics_of_alerts_notifications_and_lag(world: World) -> None:
    monitor = world.monitor()
    registry = CollectorRegistry()
    registry.register(MonitorMetrics(monitor))
    before = _samples(registry)
    assert before["alignops_monitor_alerts_open{severity=warning}"] == 0
    assert before["alignops_monitor_last_tick_timestamp_seconds"] == 0
    world.traffic(0, shift=2.0)
    world.now = datetime.now(UTC) + timedelta(minutes=1)
    assert _samples(registry)["alignops_monitor_segments_pending"] == 1
    assert _samples(registry)["alignops_monitor_windows_lag_seconds"] > 0
    world.slack.fail_next(1)
    world.tick(monitor, world.after(0))
    after = _samples(registry)
    assert after["alignops_monitor_alerts_open{severity=warning}"] == 1
    assert after["alignops_monitor_alerts_open{severity=critical}"] == 0
    assert after["alignops_monitor_notifications{status=sent}"] == 1
    assert after["alignops_monitor_notifications{status=pending}"] == 1
    assert after["alignops_monitor_last_tick_notifications{outcome=retrying}"] == 1
    assert after["alignops_monitor_segments_pending"] == 0
    assert after["alignops_monitor_windows_lag_seconds"] == 0
    assert after["alignops_monitor_last_tick_timestamp_seconds"] == world.after(0).timestamp()
    text = generate_latest(registry).decode()
    assert "# TYPE alignops_monitor_alerts_open gauge" in text

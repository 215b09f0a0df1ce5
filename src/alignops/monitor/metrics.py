"""Prometheus metrics of the monitor, read at scrape time from the state database.

:class:`MonitorMetrics` is a collector: it keeps no counters of its own, so every
process sharing the database (the server, ``alignops monitor run``) reports the same
numbers. Labels are bounded by fixed lists (severity, status) — never an alert, a
deployment or a revision::

    alignops_monitor_alerts_open{severity}                 gauge  firing alerts
    alignops_monitor_notifications{status}                 gauge  outbox rows: pending, sent, failed
    alignops_monitor_windows_lag_seconds                   gauge  age of the oldest telemetry
                                                                  segment not in the windows yet
    alignops_monitor_segments_pending                      gauge  telemetry segments not in the
                                                                  windows yet
    alignops_monitor_last_tick_timestamp_seconds           gauge  when the last tick ran
    alignops_monitor_last_tick_problems                    gauge  problems the last tick reported
    alignops_monitor_last_tick_notifications{outcome}      gauge  sent, retrying, failed, held,
                                                                  waiting in the last dispatch

Wiring: ``registry.register(MonitorMetrics(monitor))`` on the registry ``/metrics``
serves (``alignops.reconcile.metrics.controller_registry``).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from alignops.metering.segments import find_segments
from alignops.monitor.monitor import Monitor
from alignops.store.schema import alerts, monitored_segments, notifications

__all__ = ["NOTIFICATION_STATUSES", "SEVERITIES", "MonitorMetrics"]

SEVERITIES = ("info", "warning", "critical")
NOTIFICATION_STATUSES = ("pending", "sent", "failed")
_OUTCOMES = ("sent", "retrying", "failed", "held", "waiting")


class MonitorMetrics(Collector):
    """The monitor's state as Prometheus gauges (module docstring)."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        database = self.monitor.database
        with database.transaction() as conn:
            firing: dict[str, int] = dict(
                conn.execute(
                    select(alerts.c.severity, func.count())
                    .where(alerts.c.state == "firing")
                    .group_by(alerts.c.severity)
                ).all()
            )
            outbox: dict[str, int] = dict(
                conn.execute(
                    select(notifications.c.status, func.count()).group_by(notifications.c.status)
                ).all()
            )
        open_alerts = GaugeMetricFamily(
            "alignops_monitor_alerts_open", "Firing alerts by severity.", labels=["severity"]
        )
        for severity in SEVERITIES:
            open_alerts.add_metric([severity], float(firing.get(severity, 0)))
        yield open_alerts
        rows = GaugeMetricFamily(
            "alignops_monitor_notifications",
            "Notification outbox rows by status (alerts and budgets).",
            labels=["status"],
        )
        for status in NOTIFICATION_STATUSES:
            rows.add_metric([status], float(outbox.get(status, 0)))
        yield rows
        pending, lag = self._pending_segments()
        yield GaugeMetricFamily(
            "alignops_monitor_segments_pending",
            "Telemetry segments written but not added into the windows yet.",
            value=float(pending),
        )
        yield GaugeMetricFamily(
            "alignops_monitor_windows_lag_seconds",
            "Age of the oldest telemetry segment not added into the windows yet (0: none).",
            value=lag,
        )
        yield from self._last_tick()

    def _pending_segments(self) -> tuple[int, float]:
        monitor = self.monitor
        machine = monitor.machine or socket.gethostname()
        query = select(monitored_segments.c.segment, monitored_segments.c.bytes).where(
            monitored_segments.c.machine == machine
        )
        with monitor.database.transaction() as conn:
            done = {(row.segment, row.bytes) for row in conn.execute(query)}
        now = monitor.clock().timestamp()
        oldest: float | None = None
        pending = 0
        for segment in find_segments(monitor.state_dir / "telemetry"):
            if (segment.name, segment.bytes) in done:
                continue
            pending += 1
            try:
                written = segment.path.stat().st_mtime
            except OSError:
                continue
            oldest = written if oldest is None else min(oldest, written)
        return pending, max(0.0, now - oldest) if oldest is not None else 0.0

    def _last_tick(self) -> Iterator[Metric]:
        last = self.monitor.last
        at: datetime | None = last.at if last is not None else None
        yield GaugeMetricFamily(
            "alignops_monitor_last_tick_timestamp_seconds",
            "When the monitor's last tick ran (0: not yet).",
            value=at.timestamp() if at is not None else 0.0,
        )
        yield GaugeMetricFamily(
            "alignops_monitor_last_tick_problems",
            "Problems the last tick reported (unreadable parts, unrouted targets …).",
            value=float(len(last.problems)) if last is not None else 0.0,
        )
        outcomes = GaugeMetricFamily(
            "alignops_monitor_last_tick_notifications",
            "What the last tick's dispatch did with the notifications that were due.",
            labels=["outcome"],
        )
        counts = last.dispatch.counts() if last is not None else {}
        for outcome in _OUTCOMES:
            outcomes.add_metric([outcome], float(counts.get(outcome, 0)))
        yield outcomes

"""``GET /metrics`` of a service process, in the Prometheus text format.

Everything is read at scrape time from what the service keeps anyway — counters of
answers by status and their summed latency (two dict/float updates per request), the
telemetry writer's counters, the memory watch — through a custom collector, so a scrape
costs the request path nothing. Names follow decision 0033: ``alignops_runtime_*``,
labels ``deployment`` and ``environment`` (one process serves one deployment; no
revision or request ids as labels, to keep series bounded); the revision is on the
``alignops_runtime_info`` series.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from alignops.runtime.service import Service

__all__ = ["ServiceCollector", "render"]

_MB = 1024 * 1024


class ServiceCollector(Collector):
    """The metrics of one service process."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        service = self.service
        spec = service.spec
        names = ["deployment", "environment"]
        labels = [spec.deployment, spec.environment]

        info = InfoMetricFamily("alignops_runtime", "What this service process serves")
        served = {"kind": service.kind, "revision": spec.revision, "pid": str(os.getpid())}
        info.add_metric(names, {**dict(zip(names, labels, strict=True)), **served})
        yield info

        requests = CounterMetricFamily(
            "alignops_runtime_requests",
            "Requests to the service's endpoint, by HTTP status",
            labels=[*names, "status"],
        )
        for status, count in sorted(service.answered.items()):
            requests.add_metric([*labels, str(status)], count)
        yield requests

        answered = sum(service.answered.values())
        latency = SummaryMetricFamily(
            "alignops_runtime_request_duration_seconds",
            "Time from admission to answer (quantiles: the monitor's windows)",
            labels=names,
        )
        latency.add_metric(labels, answered, service.latency_ms_total / 1000)
        yield latency

        yield _gauge("alignops_runtime_in_flight", "Requests in flight", names, labels,
                     service.in_flight)  # fmt: skip
        yield _gauge("alignops_runtime_concurrency_limit", "Requests in flight at most",
                     names, labels, spec.concurrency)  # fmt: skip
        memory = service.memory
        yield _gauge("alignops_runtime_memory_rss_bytes", "Resident memory now", names,
                     labels, memory.rss_mb * _MB)  # fmt: skip
        yield _gauge("alignops_runtime_memory_peak_bytes", "Peak resident memory", names,
                     labels, memory.peak_mb * _MB)  # fmt: skip
        yield _gauge("alignops_runtime_memory_limit_bytes", "The declared memory limit",
                     names, labels, spec.memory_mb * _MB)  # fmt: skip
        if service.ready_ms is not None:
            yield _gauge("alignops_runtime_init_seconds",
                         "Process start to ready (a cold start's own part)", names, labels,
                         service.ready_ms / 1000)  # fmt: skip

        telemetry = service.telemetry.status()
        yield _gauge("alignops_runtime_telemetry_buffered", "Records waiting to be written",
                     names, labels, telemetry.buffered)  # fmt: skip
        for name, help_text, value in (
            ("written", "Records written to segments", telemetry.written),
            ("segments", "Segments written", telemetry.segments),
            ("dropped", "Records dropped (buffer full)", telemetry.dropped),
            ("failed_flushes", "Segment writes that failed (retried)", telemetry.failed_flushes),
        ):
            counter = CounterMetricFamily(
                f"alignops_runtime_telemetry_{name}", help_text, labels=names
            )
            counter.add_metric(labels, value)
            yield counter


def _gauge(name: str, help_text: str, names: list[str], labels: list[str], value: float) -> Metric:
    gauge = GaugeMetricFamily(name, help_text, labels=names)
    gauge.add_metric(labels, value)
    return gauge


def render(service: Service) -> tuple[bytes, str]:
    """The scrape body and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(service))
    return generate_latest(registry), CONTENT_TYPE_LATEST

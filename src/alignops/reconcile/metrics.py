"""Prometheus metrics of the controller (``alignops server``), served at ``GET /metrics``.

One collector, :class:`ControllerMetrics`, fed by the controller's own hooks — the
per-environment tick report, the interrupted syncs :meth:`Controller.start` recovered,
the webhook callbacks — and read from the :class:`Controller` at scrape time (ticks, last
tick). Every name starts with ``alignops_controller_``; labels are bounded by the
config (environment, webhook source) or by a fixed list (outcome, health, result) —
never a revision, a request or a pid (decision 0033)::

    alignops_controller_ticks_total                                  counter
    alignops_controller_last_tick_timestamp_seconds                  gauge
    alignops_controller_syncs_total{environment, outcome}            counter
    alignops_controller_last_sync_duration_seconds{environment}      gauge
    alignops_controller_last_sync_timestamp_seconds{environment}     gauge
    alignops_controller_services{environment, health}                gauge
    alignops_controller_interrupted_syncs_recovered_total{environment} counter
    alignops_controller_webhook_requests_total{source, result}       counter
    alignops_build_info{version}                                     info (1)

Wiring (``alignops server``)::

    metrics = ControllerMetrics()
    controller = Controller(..., report=metrics.reporting(print_line))
    metrics.watch(controller)
    metrics.recovered(controller.start())
    receiver = WebhookReceiver(..., on_push=metrics.counting_pushes(controller.wake),
                               on_rejected=metrics.counting_rejections(controller.rejected),
                               metrics=renderer(controller_registry(metrics)))
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Literal

from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry

from alignops._version import __version__
from alignops.audit import AuditRecord
from alignops.reconcile.controller import Controller, Report, TickOutcome
from alignops.reconcile.webhooks import MetricsRenderer, OnPush, OnRejected, Push, Source

__all__ = [
    "HEALTH_STATES",
    "SYNC_OUTCOMES",
    "WEBHOOK_RESULTS",
    "ControllerMetrics",
    "controller_registry",
    "renderer",
]

PREFIX = "alignops_controller"
SYNC_OUTCOMES = ("synced", "refused", "failed", "drifted", "in_sync", "error")
"""``outcome`` label values: a sync's outcome, ``in_sync`` (nothing to do) or ``error``
(the tick failed before or outside the sync)."""
HEALTH_STATES = ("healthy", "unhealthy", "drifted", "skipped")
"""``health`` label values of the services of an environment after its last sync."""
WEBHOOK_RESULTS = ("accepted", "ignored", "rejected")
"""``result`` label values: woke the loop, named no watched branch, bad secret."""
_SOURCES: tuple[Source, ...] = ("github", "gitlab")

WebhookResult = Literal["accepted", "ignored", "rejected"]


class ControllerMetrics(Collector):
    """The controller's metrics (module docstring). Thread-safe: the controller's thread
    reports, the HTTP server's threads count webhooks and scrape."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self._syncs: Counter[tuple[str, str]] = Counter()
        self._duration: dict[str, float] = {}
        self._finished: dict[str, float] = {}
        self._services: dict[str, Counter[str]] = {}
        self._recovered: Counter[str] = Counter()
        self._webhooks: Counter[tuple[str, str]] = Counter()

    # -- what feeds it ------------------------------------------------------------------

    def watch(self, controller: Controller) -> None:
        """Read ticks, the last tick and the watched environments from ``controller``."""
        self._controller = controller

    def observe(self, outcome: TickOutcome) -> None:
        """One environment's tick: its outcome, and after a sync its duration and the
        health of its services. A tick that found the environment in sync keeps the
        services of the sync before it (nothing changed); a refused sync touched nothing
        and an erroring tick saw nothing, so they keep them too."""
        label = outcome.outcome.replace(" ", "_")
        environment = outcome.environment
        with self._lock:
            self._syncs[environment, label] += 1
            if label == "in_sync":
                return
            self._duration[environment] = outcome.seconds
            self._finished[environment] = outcome.at.timestamp() + outcome.seconds
            result = outcome.result
            if result is None or result.outcome == "refused":
                return
            reported = {action.name for action in result.drift}
            states: Counter[str] = Counter({state: 0 for state in HEALTH_STATES})
            for name, health in result.health.items():
                if health.ok:
                    states["healthy"] += 1
                else:
                    states["drifted" if name in reported else "unhealthy"] += 1
            states["skipped"] += sum(1 for name in result.skipped if name not in result.health)
            self._services[environment] = states

    def reporting(self, report: Report) -> Report:
        """``report`` that also observes each outcome (the controller's ``report=``)."""

        def both(outcome: TickOutcome) -> None:
            self.observe(outcome)
            report(outcome)

        return both

    def recovered(self, records: Iterable[AuditRecord]) -> None:
        """The ``sync.interrupted`` records :meth:`Controller.start` appended."""
        with self._lock:
            for record in records:
                self._recovered[record.subject] += 1

    def webhook(self, source: Source, result: WebhookResult) -> None:
        with self._lock:
            self._webhooks[source, result] += 1

    def counting_pushes(self, on_push: OnPush) -> OnPush:
        """``on_push`` that counts each verified push as accepted or ignored."""

        def counted(push: Push) -> list[str]:
            environments = on_push(push)
            self.webhook(push.source, "accepted" if environments else "ignored")
            return environments

        return counted

    def counting_rejections(self, on_rejected: OnRejected) -> OnRejected:
        """``on_rejected`` that counts each request whose secret did not match."""

        def counted(source: Source, reason: str, client: str) -> None:
            self.webhook(source, "rejected")
            on_rejected(source, reason, client)

        return counted

    # -- what a scrape reads -------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        controller = self._controller
        watched = [w.environment for w in controller.watches] if controller else []
        with self._lock:
            syncs = Counter(self._syncs)
            duration = dict(self._duration)
            finished = dict(self._finished)
            services = {env: Counter(states) for env, states in self._services.items()}
            recovered = Counter(self._recovered)
            webhooks = Counter(self._webhooks)
        for environment in watched:  # known series start at 0, so rate() sees the first
            for outcome in SYNC_OUTCOMES:
                syncs[environment, outcome] += 0
            recovered[environment] += 0

        yield InfoMetricFamily("alignops_build", "The alignops version", {"version": __version__})
        if controller is not None:
            ticks = CounterMetricFamily(
                f"{PREFIX}_ticks", "Ticks the controller completed since it started"
            )
            ticks.add_metric([], controller.ticks)
            yield ticks
            last = GaugeMetricFamily(
                f"{PREFIX}_last_tick_timestamp_seconds",
                "When the last tick ended (Unix time; absent before the first)",
            )
            if controller.last_tick is not None:
                last.add_metric([], controller.last_tick.timestamp())
            yield last
        yield _family(
            CounterMetricFamily(
                f"{PREFIX}_syncs",
                "Ticks of an environment by outcome: a sync's (synced, refused, failed, "
                "drifted), in_sync (nothing to do) or error",
                labels=["environment", "outcome"],
            ),
            sorted(syncs.items()),
        )
        yield _family(
            GaugeMetricFamily(
                f"{PREFIX}_last_sync_duration_seconds",
                "How long the last sync of the environment took (ticks in sync excluded)",
                labels=["environment"],
            ),
            sorted(((env,), value) for env, value in duration.items()),
        )
        yield _family(
            GaugeMetricFamily(
                f"{PREFIX}_last_sync_timestamp_seconds",
                "When the last sync of the environment ended (Unix time)",
                labels=["environment"],
            ),
            sorted(((env,), value) for env, value in finished.items()),
        )
        yield _family(
            GaugeMetricFamily(
                f"{PREFIX}_services",
                "Services of the environment by health after its last sync: healthy, "
                "unhealthy, drifted (reported, not healed) or skipped (not supported)",
                labels=["environment", "health"],
            ),
            sorted(
                ((env, state), count)
                for env, states in services.items()
                for state, count in states.items()
            ),
        )
        yield _family(
            CounterMetricFamily(
                f"{PREFIX}_interrupted_syncs_recovered",
                "Syncs cut short (their process was killed) that the controller found and "
                "tidied on start",
                labels=["environment"],
            ),
            sorted(((env,), count) for env, count in recovered.items()),
        )
        for source in _SOURCES:
            for result in WEBHOOK_RESULTS:
                webhooks[source, result] += 0
        yield _family(
            CounterMetricFamily(
                f"{PREFIX}_webhook_requests",
                "Push webhooks with a configured secret, by result: accepted (woke the "
                "loop), ignored (no watched branch), rejected (the secret did not match)",
                labels=["source", "result"],
            ),
            sorted(webhooks.items()),
        )


def _family(
    family: CounterMetricFamily | GaugeMetricFamily,
    samples: Iterable[tuple[tuple[str, ...], float]],
) -> CounterMetricFamily | GaugeMetricFamily:
    for labels, value in samples:
        family.add_metric(list(labels), value)
    return family


def controller_registry(metrics: ControllerMetrics, *, process: bool = True) -> CollectorRegistry:
    """A registry of its own (not the library's global one) holding ``metrics`` and, with
    ``process``, the standard ``process_*``, ``python_info`` and ``python_gc_*`` metrics
    of this process."""
    registry = CollectorRegistry()
    registry.register(metrics)
    if process:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    return registry


def renderer(registry: Collector) -> MetricsRenderer:
    """What :class:`~alignops.reconcile.webhooks.WebhookReceiver` serves at ``/metrics``:
    the exposition format the scraper's ``Accept`` header asks for (Prometheus text by
    default, OpenMetrics when asked), with prometheus-client's content type."""

    def render(accept: str) -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept)
        return encoder(registry), content_type

    return render

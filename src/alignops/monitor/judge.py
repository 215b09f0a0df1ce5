"""Rules judged on windows: one :class:`Finding` per (rule, deployment, window).

A window is *judged* once it has closed — its end, plus a short settling time for the
last telemetry flush, is past — and it holds at least ``monitoring.minRequests``
requests; a window with fewer is shown (``monitor status``), not judged. The windows of
one deployment that start together (two revisions during a rollout) are one *slot*:
their requests add up for ``minRequests``; drift is measured per revision against that
revision's reference, and the slot's value is the worst of them; service metrics are
measured on the windows added together.

A finding groups: a drift finding names **every** feature whose PSI breaks the
threshold, a fairness finding every protected attribute (decision 0030).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from alignops.anomaly import score_series
from alignops.anomaly.scores import MIN_ERRORS
from alignops.monitor.alerts import WindowValue
from alignops.monitor.latency import LatencyHistogram
from alignops.monitor.reference import ReferenceProfiles
from alignops.monitor.rules import Rule
from alignops.monitor.windows_data import Window

__all__ = [
    "Finding",
    "Measure",
    "Slot",
    "history_needed",
    "judge",
    "measure",
    "service_metric",
    "slots",
]


@dataclass(frozen=True)
class Slot:
    """The windows of one deployment that start at the same time (one per revision)."""

    start: datetime
    seconds: int
    windows: tuple[Window, ...]

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)

    @property
    def requests(self) -> int:
        return sum(w.requests for w in self.windows)

    @property
    def revision(self) -> str:
        """The revision that served most of the slot's requests."""
        return max(self.windows, key=lambda w: w.requests).revision

    def closed(self, now: datetime, settle: timedelta) -> bool:
        return self.end + settle <= now


def slots(windows: Iterable[Window]) -> list[Slot]:
    """Windows grouped by start, oldest first."""
    grouped: dict[tuple[datetime, int], list[Window]] = {}
    for window in windows:
        grouped.setdefault((window.start, window.seconds), []).append(window)
    return [
        Slot(start, seconds, tuple(sorted(ws, key=lambda w: w.revision)))
        for (start, seconds), ws in sorted(grouped.items())
    ]


@dataclass(frozen=True)
class Finding:
    """A rule judged on one slot: the measured value and whether it breaks the rule."""

    rule: Rule
    slot: Slot
    value: WindowValue | None
    """None: the metric could not be measured (``note`` says why); not judged."""
    breaking: bool = False
    note: str = ""

    @property
    def window(self) -> datetime:
        return self.slot.start


@dataclass(frozen=True)
class Measure:
    """A metric measured on a slot, with every feature or attribute behind it."""

    value: float | None
    parts: dict[str, float] = field(default_factory=dict)
    note: str = ""


def measure(rule: Rule, slot: Slot, references: ReferenceProfiles) -> Measure:
    """The value of ``rule``'s metric (for an anomaly rule, of its base metric)."""
    metric = rule.base_metric
    if metric == "psi":
        return _psi(rule, slot, references)
    if metric == "parity":
        return _parity(rule, slot, references)
    return _service(metric, slot.windows)


def _psi(rule: Rule, slot: Slot, references: ReferenceProfiles) -> Measure:
    worst: dict[str, float] = {}
    missing: list[str] = []
    for window in slot.windows:
        reference = references.get(rule.deployment, window.revision)
        if reference.profile is None:
            missing.append(f"revision {window.revision[:12]}: {reference.problem}")
            continue
        values = window.psi(reference.profile)
        wanted = rule.features if rule.features is not None else tuple(values)
        for name in wanted:
            value = values.get(name)
            if value is not None and math.isfinite(value):
                worst[name] = max(worst.get(name, value), value)
    if not worst:
        why = (
            "no reference profile (" + "; ".join(missing) + ")"
            if missing
            else "no watched feature was counted in the requests"
        )
        return Measure(None, note=f"psi not measured: {why}")
    return Measure(max(worst.values()), worst)


def _parity(rule: Rule, slot: Slot, references: ReferenceProfiles) -> Measure:
    worst: dict[str, float] = {}
    notes: list[str] = []
    for window in slot.windows:
        reference = references.get(rule.deployment, window.revision)
        attributes = rule.attributes
        if attributes is None:
            attributes = reference.protected
        if not attributes:
            notes.append(f"no protected attributes known for revision {window.revision[:12]}")
            continue
        for attribute in attributes:
            value = window.parity_difference(attribute, rule.min_group_size)
            if value is not None and math.isfinite(value):
                worst[attribute] = max(worst.get(attribute, value), value)
    if not worst:
        why = "; ".join(notes) or (
            f"fewer than two groups of {rule.min_group_size}+ rows per protected attribute"
        )
        return Measure(None, note=f"parity not measured: {why}")
    return Measure(max(worst.values()), worst)


def _service(metric: str, windows: Sequence[Window]) -> Measure:
    """A service metric of the slot's windows added together."""
    value = service_metric(metric, windows)
    if value is None or not math.isfinite(value):
        return Measure(None, note=f"{metric} not measured: no value in this window")
    return Measure(value)


def service_metric(metric: str, windows: Sequence[Window]) -> float | None:
    """``p95``, ``error_rate`` … of windows that share a start (one per revision)."""
    seconds = windows[0].seconds
    requests = sum(w.requests for w in windows)
    if metric in ("p50", "p95", "p99"):
        latency = LatencyHistogram.empty()
        for window in windows:
            latency = latency + window.latency
        return latency.quantile(int(metric[1:]) / 100)
    if metric == "request_rate":
        return requests / seconds
    if metric == "error_rate":
        return sum(w.errors for w in windows) / requests if requests else None
    if metric == "cold_start_rate":
        return sum(w.cold_starts for w in windows) / requests if requests else None
    if metric == "cold_start_ms":
        cold = sum(w.cold_starts for w in windows)
        return sum(w.cold_start_ms for w in windows) / cold if cold else None
    if metric == "cost_rate":
        return float(sum(w.cost_rate for w in windows))
    raise ValueError(f"unknown service metric {metric!r}")


def judge(
    rule: Rule,
    judged: Sequence[Slot],
    references: ReferenceProfiles,
) -> list[Finding]:
    """``rule`` on each slot of ``judged`` (closed, with enough requests; oldest
    first)."""
    measured = [(slot, measure(rule, slot, references)) for slot in judged]
    if rule.is_anomaly:
        return _anomalies(rule, measured)
    findings = []
    for slot, found in measured:
        if found.value is None:
            findings.append(Finding(rule, slot, None, note=found.note))
            continue
        over = {k: v for k, v in found.parts.items() if rule.breaks(v)}
        breaking = rule.breaks(found.value)
        findings.append(Finding(rule, slot, _value(slot, found.value, over), breaking))
    return findings


def _anomalies(rule: Rule, measured: list[tuple[Slot, Measure]]) -> list[Finding]:
    """The series of the base metric over the judged slots, scored robustly; each slot
    judged by its own score (the baseline only looks back, so a later window never
    changes an earlier verdict)."""
    settings = rule.anomaly
    assert settings is not None
    series = np.array(
        [np.nan if m.value is None else m.value for _, m in measured], dtype=np.float64
    )
    if not len(series):
        return []
    scores = score_series(
        series,
        season=settings.season,
        window=settings.window,
        threshold=rule.threshold,
        min_change=settings.min_change,
        direction=settings.direction,
    )
    findings = []
    for i, (slot, found) in enumerate(measured):
        if found.value is None:
            findings.append(Finding(rule, slot, None, note=found.note))
            continue
        score = float(scores.score[i])
        if math.isnan(score):
            findings.append(
                Finding(rule, slot, None, note=f"{rule.metric}: baseline still warming up")
            )
            continue
        extra: dict[str, Any] = {
            "baseline": float(scores.baseline[i]),
            "spread": float(scores.spread[i]),
            "score": score,
        }
        value = _value(slot, found.value, {}, extra)
        findings.append(Finding(rule, slot, value, bool(scores.anomalous[i])))
    return findings


def _value(
    slot: Slot, value: float, over: dict[str, float], extra: dict[str, Any] | None = None
) -> WindowValue:
    return WindowValue(
        window=slot.start,
        revision=slot.revision,
        requests=slot.requests,
        value=value,
        over=dict(sorted(over.items(), key=lambda kv: -kv[1])),
        extra=extra or {},
    )


def history_needed(rule: Rule) -> int:
    """Judged windows before the first one to judge that an anomaly rule's scores look
    at (the baseline's window, the spread's three windows of errors, and the errors the
    spread needs at least); 0 for a threshold rule."""
    if rule.anomaly is None:
        return 0
    return 4 * rule.anomaly.window + MIN_ERRORS

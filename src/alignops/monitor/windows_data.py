"""A telemetry window: what one deployment's traffic did in one time window.

A window is one deployment in one environment at one revision over ``seconds`` of time,
tumbling and aligned to the epoch (a window starts at a multiple of ``seconds`` since
1970-01-01T00:00:00Z). It holds counts only — requests, errors, rows, cold starts,
latency buckets, the live rows in the reference profile's bins, rows and positive
predictions per group of each protected attribute — so windows merge by adding, and
:func:`update_windows` adds each new telemetry segment exactly once instead of reading
history again. Rates, quantiles, PSI and parity are derived from the counts.

Which requests count for what:

- ``requests``, ``latency``: every request of the deployment (whatever its status);
  ``errors``: status ≥ 400; ``rows``: rows scored (the telemetry's ``rows``);
  ``cold_starts`` and ``cold_start_ms`` (their total ``init_ms``).
- ``features`` and ``selections``: the rows of answered requests (status < 400) whose
  body could be read — ``{"rows": [...]}`` or ``{"instances": [...]}`` with the runtime's
  answer ``{"predictions": [...]}`` of as many predictions when selections are counted.
  Answered requests whose body could not be read are counted in ``unparsable`` and
  nothing else of them is (decision 0029).
- ``cost``: the deployment's cost records of that environment and revision, prorated by
  how much of each record's charge period falls in the window; read when windows are
  loaded, since metering may run after monitoring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from alignops.evidence.profile import FeatureProfile, Profile, psi
from alignops.monitor.latency import LatencyHistogram

__all__ = ["Window", "WindowKey", "format_time", "parse_time"]

WindowKey = tuple[str, str, str, int, datetime]
"""(environment, deployment, revision, seconds, start)."""

_MAX_NOTES = 20


def format_time(moment: datetime) -> str:
    """How window starts are stored: ``2026-11-23T12:00:00Z`` (sorts as text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """The counts of one deployment's traffic at one revision in one time window."""

    environment: str
    deployment: str
    revision: str
    start: datetime
    seconds: int
    requests: int = 0
    errors: int = 0
    rows: int = 0
    cold_starts: int = 0
    cold_start_ms: float = 0.0
    """Total ``init_ms`` of the cold starts (``mean_cold_start_ms`` is the mean)."""
    latency: LatencyHistogram = field(default_factory=LatencyHistogram.empty)
    features: dict[str, FeatureProfile] = field(default_factory=dict)
    """Live rows counted in the reference profile's bins, per feature."""
    selections: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    """Protected attribute → group → (rows, positive predictions)."""
    cost: Decimal = Decimal(0)
    unparsable: int = 0
    """Answered requests whose body could not be read as rows (and predictions)."""
    reference: str | None = None
    """Where the bins of ``features`` came from; None: no reference profile."""
    notes: tuple[str, ...] = ()
    """Why drift or fairness counts are missing or partial, for people."""

    # -- identity ---------------------------------------------------------------------------

    @property
    def key(self) -> WindowKey:
        return (self.environment, self.deployment, self.revision, self.seconds, self.start)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)

    # -- derived ----------------------------------------------------------------------------

    @property
    def p50(self) -> float | None:
        return self.latency.quantile(0.5)

    @property
    def p95(self) -> float | None:
        return self.latency.quantile(0.95)

    @property
    def p99(self) -> float | None:
        return self.latency.quantile(0.99)

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def request_rate(self) -> float:
        """Requests per second over the whole window."""
        return self.requests / self.seconds

    @property
    def cold_start_rate(self) -> float | None:
        return self.cold_starts / self.requests if self.requests else None

    @property
    def mean_cold_start_ms(self) -> float | None:
        return self.cold_start_ms / self.cold_starts if self.cold_starts else None

    @property
    def cost_rate(self) -> Decimal:
        """Cost per hour over the window."""
        return self.cost * 3600 / self.seconds

    def psi(self, reference: Profile) -> dict[str, float]:
        """PSI of every feature the window counted live rows of, against ``reference``
        (``evidence.profile.psi``: same bins, empty bins floored at 1e-4)."""
        out: dict[str, float] = {}
        for name, expected in reference.features.items():
            live = self.features.get(name)
            if live is not None and live.rows > 0 and expected.same_bins(live):
                out[name] = psi(expected, live)
        return out

    def selection_rates(self, attribute: str) -> dict[str, float]:
        """Share of positive predictions per group of ``attribute`` (groups with rows)."""
        groups = self.selections.get(attribute, {})
        return {g: positives / rows for g, (rows, positives) in groups.items() if rows}

    def parity_difference(self, attribute: str, min_group: int = 1) -> float | None:
        """Max − min selection rate over the groups of at least ``min_group`` rows
        (demographic parity difference); None with fewer than two such groups."""
        groups = self.selections.get(attribute, {})
        least = max(min_group, 1)
        rates = [positives / rows for rows, positives in groups.values() if rows >= least]
        if len(rates) < 2:
            return None
        return max(rates) - min(rates)

    # -- merging ----------------------------------------------------------------------------

    def merge(self, other: Window) -> Window:
        """The counts of both windows (the same key) added together."""
        if other.key != self.key:
            raise ValueError(f"cannot add window {other.key} to window {self.key}")
        notes = list(self.notes)
        features = dict(self.features)
        for name, live in other.features.items():
            mine = features.get(name)
            if mine is None:
                features[name] = live
            elif mine.same_bins(live):
                counts = tuple(a + b for a, b in zip(mine.counts, live.counts, strict=True))
                features[name] = FeatureProfile(
                    name, mine.kind, mine.edges, mine.categories, counts
                )
            else:
                notes.append(
                    f"feature {name}: {live.rows} rows counted in other bins were left out"
                )
        selections = {attr: dict(groups) for attr, groups in self.selections.items()}
        for attr, groups in other.selections.items():
            mine_groups = selections.setdefault(attr, {})
            for group, (rows, positives) in groups.items():
                old_rows, old_positives = mine_groups.get(group, (0, 0))
                mine_groups[group] = (old_rows + rows, old_positives + positives)
        notes.extend(n for n in other.notes if n not in notes)
        return Window(
            self.environment,
            self.deployment,
            self.revision,
            self.start,
            self.seconds,
            requests=self.requests + other.requests,
            errors=self.errors + other.errors,
            rows=self.rows + other.rows,
            cold_starts=self.cold_starts + other.cold_starts,
            cold_start_ms=self.cold_start_ms + other.cold_start_ms,
            latency=self.latency + other.latency,
            features=features,
            selections=selections,
            cost=self.cost + other.cost,
            unparsable=self.unparsable + other.unparsable,
            reference=other.reference or self.reference,
            notes=tuple(dict.fromkeys(notes))[:_MAX_NOTES],
        )

    # -- stored form --------------------------------------------------------------------------

    def counts_json(self) -> dict[str, Any]:
        """The ``counts`` column: everything that is not a column of its own."""
        return {
            "latency": self.latency.to_dict(),
            "features": {name: f.to_dict() for name, f in self.features.items()},
            "selections": {
                attr: {group: [rows, positives] for group, (rows, positives) in groups.items()}
                for attr, groups in self.selections.items()
            },
            "unparsable": self.unparsable,
            "reference": self.reference,
            "notes": list(self.notes),
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON form for ``--output json`` and the API (counts and derived values)."""
        return {
            "environment": self.environment,
            "deployment": self.deployment,
            "revision": self.revision,
            "start": format_time(self.start),
            "seconds": self.seconds,
            "requests": self.requests,
            "errors": self.errors,
            "rows": self.rows,
            "coldStarts": self.cold_starts,
            "coldStartMs": self.cold_start_ms,
            "unparsable": self.unparsable,
            "p50": self.p50,
            "p95": self.p95,
            "p99": self.p99,
            "errorRate": self.error_rate,
            "requestRate": self.request_rate,
            "coldStartRate": self.cold_start_rate,
            "meanColdStartMs": self.mean_cold_start_ms,
            "cost": str(self.cost),
            "costRate": str(self.cost_rate),
            "reference": self.reference,
            "notes": list(self.notes),
            "features": {name: f.to_dict() for name, f in self.features.items()},
            "selections": {
                attr: {g: {"rows": r, "positives": p} for g, (r, p) in groups.items()}
                for attr, groups in self.selections.items()
            },
        }

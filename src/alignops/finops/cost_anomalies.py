"""Cost anomalies: daily cost per dimension value, scored, explained, sized, with feedback.

For each scored dimension (``model``, ``team``, ``env``, ``activity`` by default; also
``cost_center``, ``service``, ``account``, ``region``) every value's daily cost, per
billing currency, is one series, scored with :func:`alignops.anomaly.score_series`
(weekly season, 28-day window, decision 0031) at :data:`DEFAULT_THRESHOLD`, rises only.
A series starts on its first day with a charge; later days without one cost zero; days
after the ledger's last day of data are not scored (an export that is late is not a
drop). Then (decision 0039):

- **episodes**: the flagged days of a series join one anomaly while no more than
  :data:`EPISODE_GAP_DAYS` days separate them — a level shift is flagged for two to three
  weeks until the baseline learns it, and that is one anomaly, not fifteen;
- **impact**: the flagged days' cost against their baselines
  (:func:`alignops.anomaly.impact`), in money (exact: the ledger's ``Decimal`` sums) and
  percent;
- **root cause**: the peak day's rows against the mean of the same weekday in the four
  weeks before the episode (:func:`alignops.anomaly.root_cause`), ranked by service,
  account, region and the other governed tags;
- **feedback**: ``yes``, ``no`` or ``planned`` on an episode (``anomaly_feedback`` in the
  ledger, keyed by its first day). ``no`` and ``planned`` suppress the episode and its
  **repeats**: the same series' later episodes starting within
  :data:`REPEAT_DAYS` days of its last flagged day (by then the baseline has learnt the
  change). Suppressed anomalies are still returned, marked ``suppressed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from alignops.anomaly import Contribution, impact, root_cause, score_series
from alignops.anomaly.impact import EXACT, to_decimal
from alignops.errors import InputError, UsageError
from alignops.finops.ledger import DIMENSION_COLUMNS, DIMENSIONS
from alignops.finops.queries import COST_METRICS, filtered

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from alignops.audit.log import AuditLog
    from alignops.finops.engine import LedgerEngine

__all__ = [
    "ANOMALY_DIMENSIONS",
    "DEFAULT_DIMENSIONS",
    "DEFAULT_THRESHOLD",
    "EPISODE_GAP_DAYS",
    "LOOKBACK_DAYS",
    "REPEAT_DAYS",
    "UNTAGGED",
    "VERDICTS",
    "AnomalyDay",
    "CostAnomaly",
    "Feedback",
    "detect_cost_anomalies",
    "record_feedback",
]

Verdict = Literal["yes", "no", "planned"]
VERDICTS: tuple[str, ...] = ("yes", "no", "planned")

ANOMALY_DIMENSIONS = (*DIMENSIONS, "service", "account", "region")
"""Dimensions whose values can be scored; ``account`` is ``SubAccountId``, else
``BillingAccountId``."""
DEFAULT_DIMENSIONS = ("model", "team", "env", "activity")
DRILL_DOWN = ("service", "account", "region", *DIMENSIONS)
"""What a root cause ranks (the scored dimension itself left out)."""

DEFAULT_THRESHOLD = 4.5
"""Score from which a day's cost is flagged: above the 4.0 of service metrics, for
precision (bench/cost_anomaly_bench.py: precision 0.94–0.97 and recall 0.98 at 4.5
against 0.89–0.92 and 0.99 at 4.0; decision 0039)."""
UNTAGGED = "(untagged)"
"""The value of the series of costs without a value of the dimension."""
SEASON = 7
WINDOW = 28
LOOKBACK_DAYS = 112
"""Days read before the first day asked for: a spread needs 84 errors, each error a
28-day baseline."""
EPISODE_GAP_DAYS = 7
"""Flagged days of a series at most this far apart are one anomaly."""
REPEAT_DAYS = 28
"""After an episode marked ``no`` or ``planned``, the same series' episodes starting
within this many days of its last flagged day are its repeats (suppressed)."""
BASELINE_WEEKS = 4
"""Same weekdays before an episode that a root cause compares the peak day with."""


@dataclass(frozen=True)
class AnomalyDay:
    """One flagged day of an anomaly."""

    day: date
    actual: Decimal
    expected: Decimal
    score: float


@dataclass(frozen=True)
class Feedback:
    """What a person said about an anomaly (``anomaly_feedback``)."""

    dimension: str
    value: str
    day: date
    verdict: Verdict
    note: str | None
    given_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "value": self.value,
            "day": self.day.isoformat(),
            "verdict": self.verdict,
            "note": self.note,
            "givenAt": self.given_at.isoformat(),
        }


@dataclass(frozen=True)
class CostAnomaly:
    """An episode of unusual daily cost of one value of one dimension."""

    day: date
    """The first flagged day (the anomaly's key, with dimension and value)."""
    dimension: str
    value: str
    currency: str
    actual: Decimal
    """Cost of the flagged days."""
    expected: Decimal
    """Their baselines (median of the same weekday in the 4 weeks before each)."""
    impact: Decimal
    impact_percent: float | None
    score: float
    """The highest score of the episode."""
    last_day: date
    peak_day: date
    days: tuple[AnomalyDay, ...]
    root_causes: tuple[Contribution, ...]
    """The first-ranked value of each drill-down dimension that has more than one value,
    largest share first (ties in the order service, account, region, tags)."""
    drill_down: dict[str, tuple[Contribution, ...]] = field(default_factory=dict)
    """Per drill-down dimension, its values ranked culprit first (at most 5)."""
    feedback: Feedback | None = None
    suppressed: bool = False
    suppressed_by: Feedback | None = None
    """The ``no``/``planned`` feedback that suppresses it (its own, or an earlier
    episode's of which it is a repeat)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "lastDay": self.last_day.isoformat(),
            "peakDay": self.peak_day.isoformat(),
            "dimension": self.dimension,
            "value": self.value,
            "currency": self.currency,
            "actual": str(self.actual),
            "expected": str(self.expected),
            "impact": str(self.impact),
            "impactPercent": None if self.impact_percent is None else round(self.impact_percent, 2),
            "score": round(self.score, 2),
            "days": [
                {
                    "day": d.day.isoformat(),
                    "actual": str(d.actual),
                    "expected": str(d.expected),
                    "score": round(d.score, 2),
                }
                for d in self.days
            ],
            "rootCauses": [_contribution(c) for c in self.root_causes],
            "drillDown": {k: [_contribution(c) for c in v] for k, v in self.drill_down.items()},
            "feedback": self.feedback.to_dict() if self.feedback else None,
            "suppressed": self.suppressed,
            "suppressedBy": self.suppressed_by.to_dict() if self.suppressed_by else None,
        }


def _contribution(c: Contribution) -> dict[str, Any]:
    return {
        "dimension": c.dimension,
        "value": c.key,
        "current": str(c.current),
        "baseline": str(c.baseline),
        "delta": str(c.delta),
        "share": None if c.share is None else round(c.share, 4),
        "percent": None if c.percent is None else round(c.percent, 2),
    }


# -- detection --------------------------------------------------------------------------


def detect_cost_anomalies(
    engine: LedgerEngine,
    *,
    dimensions: Sequence[str] = DEFAULT_DIMENSIONS,
    start: date | None = None,
    end: date | None = None,
    metric: str = "EffectiveCost",
    today: date,
    threshold: float = DEFAULT_THRESHOLD,
    min_change: float = 1.0,
) -> list[CostAnomaly]:
    """Anomalies with a flagged day in ``[start, end)`` (default: the 30 days up to
    ``today``), sorted by first day, dimension and value (module docstring).

    ``threshold``: robust score from which a day is flagged; ``min_change``: least rise
    over the baseline, in money, for a day to be flagged (keeps cent-sized series quiet).
    Only rises are anomalies. Reads only.
    """
    _check_dimensions(dimensions)
    if metric not in COST_METRICS:
        raise UsageError(f"unknown cost metric {metric!r}; expected one of {COST_METRICS}")
    last = min(end - timedelta(days=1), today) if end is not None else today
    first = start if start is not None else today - timedelta(days=29)
    if first > last:
        raise UsageError(f"empty range: {first} is after {last}")
    through = _data_through(engine, last)
    if through is None or through < first:
        return []
    feedback = _feedback(engine, dimensions)
    found: list[CostAnomaly] = []
    with localcontext(EXACT):
        for dimension in dimensions:
            episodes = _episodes(
                engine,
                dimension,
                first - timedelta(days=LOOKBACK_DAYS),
                through,
                metric,
                threshold=threshold,
                min_change=min_change,
            )
            marked = _apply_feedback(episodes, feedback.get(dimension, []))
            shown = [e for e in marked if e.last_day >= first]
            found += _explain(engine, dimension, shown, metric)
    return sorted(found, key=lambda a: (a.day, a.dimension, a.value, a.currency))


def _check_dimensions(dimensions: Sequence[str]) -> None:
    if isinstance(dimensions, str) or not dimensions:
        raise UsageError("dimensions: give at least one, e.g. team")
    for name in dimensions:
        if name not in ANOMALY_DIMENSIONS:
            raise UsageError(
                f"unknown dimension {name!r}; expected one of {', '.join(ANOMALY_DIMENSIONS)}"
            )


def _column(charges: ir.Table, dimension: str) -> ir.Column:
    """The dimension's value of each charge, :data:`UNTAGGED` where it has none."""
    if dimension in DIMENSION_COLUMNS:
        column = charges[DIMENSION_COLUMNS[dimension]]
    elif dimension == "service":
        column = charges.ServiceName
    elif dimension == "region":
        column = charges.RegionId
    else:
        column = charges.SubAccountId.coalesce(charges.BillingAccountId)
    return column.fill_null(UNTAGGED)


def _data_through(engine: LedgerEngine, last: date) -> date | None:
    charges = filtered(engine.charges(), end=last + timedelta(days=1))
    frame = engine.execute(charges.aggregate(last=charges.ChargePeriodStart.max()))
    value = frame["last"].iloc[0] if len(frame) else None
    if value is None or value != value:
        return None
    return _as_date(value)


@dataclass
class _Episode:
    """Flagged days of one series, before their money is read and explained."""

    dimension: str
    value: str
    currency: str
    flagged: list[tuple[date, float, float]]
    """(day, baseline, score) of each flagged day."""
    first_seen: date
    """The series' first day with a charge (root-cause baselines start there)."""
    feedback: Feedback | None = None
    suppressed_by: Feedback | None = None

    @property
    def day(self) -> date:
        return self.flagged[0][0]

    @property
    def last_day(self) -> date:
        return self.flagged[-1][0]

    @property
    def peak(self) -> date:
        return max(self.flagged, key=lambda f: f[2])[0]


def _episodes(
    engine: LedgerEngine,
    dimension: str,
    first: date,
    through: date,
    metric: str,
    *,
    threshold: float,
    min_change: float,
) -> list[_Episode]:
    """Score every series of ``dimension`` over ``[first, through]`` and group the
    flagged days into episodes."""
    charges = filtered(engine.charges(), start=first, end=through + timedelta(days=1))
    keys = [
        charges.ChargePeriodStart.date().name("day"),
        _column(charges, dimension).name("value"),
        charges.BillingCurrency.fill_null("").name("currency"),
    ]
    # floats are enough to score; the money of flagged days is read exactly afterwards
    total = charges[metric].sum().cast("float64").name("cost")
    frame = engine.execute(charges.group_by(keys).aggregate(total))
    if frame.empty:
        return []
    series, costs = _matrix(frame, first, through)
    scores = score_series(
        costs, season=SEASON, window=WINDOW, threshold=threshold, min_change=min_change
    )
    episodes: list[_Episode] = []
    rows, offsets = np.nonzero(scores.anomalous)
    current: list[tuple[date, float, float]] = []
    previous = -1
    for row, offset in zip(rows.tolist(), offsets.tolist(), strict=True):
        day = first + timedelta(days=offset)
        if current and (row != previous or (day - current[-1][0]).days > EPISODE_GAP_DAYS):
            value, currency, seen = series[previous]
            episodes.append(_Episode(dimension, value, currency, current, seen))
            current = []
        current.append((day, float(scores.baseline[row, offset]), float(scores.score[row, offset])))
        previous = row
    if current:
        value, currency, seen = series[previous]
        episodes.append(_Episode(dimension, value, currency, current, seen))
    return episodes


def _matrix(
    frame: pd.DataFrame, first: date, through: date
) -> tuple[list[tuple[str, str, date]], np.ndarray[Any, np.dtype[np.float64]]]:
    """One row per (value, currency): NaN before its first charge, zero on days without."""
    import pandas as pd

    days = _offsets(frame["day"], first)
    codes, keys = pd.factorize(pd.MultiIndex.from_arrays([frame["value"], frame["currency"]]))
    width = (through - first).days + 1
    costs = np.zeros((len(keys), width))
    np.add.at(costs, (codes, days), frame["cost"].fillna(0.0).to_numpy(dtype=float))
    starts = np.full(len(keys), width, dtype=np.int64)
    np.minimum.at(starts, codes, days)
    costs[np.arange(width)[None, :] < starts[:, None]] = np.nan
    series = [
        (str(value), str(currency), first + timedelta(days=int(starts[i])))
        for i, (value, currency) in enumerate(keys)
    ]
    return series, costs


def _offsets(days: pd.Series, first: date) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Days as whole days since ``first`` (dates, datetimes or timestamps)."""
    import pandas as pd

    stamps = pd.to_datetime(days).to_numpy(dtype="datetime64[D]")
    offsets: np.ndarray[Any, np.dtype[np.int64]] = (stamps - np.datetime64(first, "D")).astype(
        np.int64
    )
    return offsets


# -- feedback ---------------------------------------------------------------------------


def _feedback(engine: LedgerEngine, dimensions: Sequence[str]) -> dict[str, list[Feedback]]:
    rows = engine.con.execute(
        "SELECT dimension, value, day, verdict, note, given_at FROM anomaly_feedback "
        f"WHERE dimension IN ({', '.join('?' for _ in dimensions)}) ORDER BY day, given_at",
        list(dimensions),
    ).fetchall()
    out: dict[str, list[Feedback]] = {}
    for dimension, value, day, verdict, note, given_at in rows:
        out.setdefault(dimension, []).append(
            Feedback(
                dimension=dimension,
                value=value,
                day=day,
                verdict=cast(Verdict, verdict),
                note=note,
                given_at=given_at.replace(tzinfo=UTC),
            )
        )
    return out


def _apply_feedback(episodes: list[_Episode], feedback: Iterable[Feedback]) -> list[_Episode]:
    """Attach each feedback to the episode holding its day; suppress ``no``/``planned``
    episodes and their repeats."""
    by_series: dict[str, list[_Episode]] = {}
    for episode in episodes:
        by_series.setdefault(episode.value, []).append(episode)
    for given in feedback:
        for episode in by_series.get(given.value, []):
            if episode.day <= given.day <= episode.last_day:
                episode.feedback = given
    for series in by_series.values():
        series.sort(key=lambda e: e.day)
        for index, episode in enumerate(series):
            verdict = episode.feedback
            if verdict is None or verdict.verdict == "yes":
                continue
            episode.suppressed_by = verdict
            horizon = episode.last_day + timedelta(days=REPEAT_DAYS)
            for later in series[index + 1 :]:
                if later.day <= horizon and later.feedback is None:
                    later.suppressed_by = later.suppressed_by or verdict
    return episodes


def record_feedback(
    engine: LedgerEngine,
    *,
    dimension: str,
    value: str,
    day: date,
    verdict: str,
    note: str | None = None,
    audit: AuditLog | None = None,
    now: datetime | None = None,
) -> Feedback:
    """Store a verdict on the anomaly of ``dimension`` = ``value`` whose first day is
    ``day`` (through ``engine.con``, read-write); a later verdict replaces an earlier one.
    The caller checks that the anomaly exists (``alignops cost anomaly-feedback`` does)."""
    if verdict not in VERDICTS:
        raise UsageError(f"verdict: expected one of {', '.join(VERDICTS)}, got {verdict!r}")
    _check_dimensions([dimension])
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    engine.con.execute(
        "INSERT OR REPLACE INTO anomaly_feedback (dimension, value, day, verdict, note, "
        "given_at) VALUES (?, ?, ?, ?, ?, ?)",
        [dimension, value, day, verdict, note, moment.replace(tzinfo=None)],
    )
    given = Feedback(dimension, value, day, cast(Verdict, verdict), note, moment)
    if audit is not None:
        audit.append("cost.anomaly.feedback", f"{dimension}={value}", given.to_dict(), now=moment)
    return given


# -- explanation ------------------------------------------------------------------------


def _explain(
    engine: LedgerEngine, dimension: str, episodes: list[_Episode], metric: str
) -> list[CostAnomaly]:
    """Exact money, impact and root cause of each episode: one query for the rows of
    every flagged and baseline day of every episode."""
    if not episodes:
        return []
    import ibis

    drill = [d for d in DRILL_DOWN if d != dimension]
    plans = {id(e): _baseline_days(e) for e in episodes}
    pairs = sorted(
        {(e.value, d) for e in episodes for d in (*(f[0] for f in e.flagged), *plans[id(e)])}
    )
    wanted = ibis.memtable(
        {"value": [v for v, _ in pairs], "day": [d for _, d in pairs]},
        schema={"value": "string", "day": "date"},
    )
    charges = filtered(
        engine.charges(),
        start=min(d for _, d in pairs),
        end=max(d for _, d in pairs) + timedelta(days=1),
    )
    charges = charges.mutate(
        day=charges.ChargePeriodStart.date(),
        value=_column(charges, dimension),
        currency=charges.BillingCurrency.fill_null(""),
        **{f"drill_{d}": _column(charges, d) for d in drill},
    )
    joined = charges.inner_join(wanted, ["value", "day"])
    keys = ["day", "value", "currency", *(f"drill_{d}" for d in drill)]
    frame = engine.execute(joined.group_by(keys).aggregate(cost=joined[metric].sum()))
    rows: dict[tuple[str, str, date], list[dict[str, Any]]] = {}
    offsets = _offsets(frame["day"], _EPOCH) if len(frame) else np.zeros(0, dtype=np.int64)
    columns = [frame[f"drill_{d}"].tolist() for d in drill]
    for index, (value, currency, cost) in enumerate(
        zip(frame["value"], frame["currency"], frame["cost"], strict=True)
    ):
        entry: dict[str, Any] = {
            d: None if column[index] == UNTAGGED else column[index]
            for d, column in zip(drill, columns, strict=True)
        }
        entry["cost"] = _money(cost)
        day = _EPOCH + timedelta(days=int(offsets[index]))
        rows.setdefault((str(value), str(currency), day), []).append(entry)
    return [_anomaly(e, drill, rows, plans[id(e)]) for e in episodes]


_EPOCH = date(1970, 1, 1)


def _baseline_days(episode: _Episode) -> list[date]:
    """The peak's weekday in the :data:`BASELINE_WEEKS` weeks before the episode (not
    before the series' first charge)."""
    peak = episode.peak
    weeks = -(-((peak - episode.day).days + 1) // 7)  # the first same weekday before it
    days = [peak - timedelta(days=7 * (weeks + k)) for k in range(BASELINE_WEEKS)]
    return [d for d in days if d >= episode.first_seen]


def _anomaly(
    episode: _Episode,
    drill: list[str],
    rows: Mapping[tuple[str, str, date], list[dict[str, Any]]],
    baseline_days: list[date],
) -> CostAnomaly:
    series = (episode.value, episode.currency)
    days = tuple(
        AnomalyDay(
            day=day,
            actual=sum((r["cost"] for r in rows.get((*series, day), [])), Decimal(0)),
            expected=to_decimal(baseline),
            score=score,
        )
        for day, baseline, score in episode.flagged
    )
    actual = sum((d.actual for d in days), Decimal(0))
    expected = sum((d.expected for d in days), Decimal(0))
    change = impact(actual, expected)
    peak = episode.peak
    current = rows.get((*series, peak), [])
    before = [
        {**row, "cost": row["cost"] / len(baseline_days)}
        for d in baseline_days
        for row in rows.get((*series, d), [])
    ]
    causes: tuple[Contribution, ...] = ()
    ranked: dict[str, tuple[Contribution, ...]] = {}
    if current or before:
        cause = root_cause(current, dimensions=drill, value="cost", baseline_rows=before)
        # a dimension with one value (every cost in env=production, no model tag) explains
        # all of any change and tells nothing: left out
        ranked = {k: v[:5] for k, v in cause.dimensions.items() if len(v) > 1}
        firsts = [v[0] for v in ranked.values()]
        causes = tuple(sorted(firsts, key=lambda c: -(c.share or 0.0)))
    return CostAnomaly(
        day=episode.day,
        dimension=episode.dimension,
        value=episode.value,
        currency=episode.currency,
        actual=actual,
        expected=expected,
        impact=to_decimal(change.delta),
        impact_percent=change.percent,
        score=max(d.score for d in days),
        last_day=episode.last_day,
        peak_day=peak,
        days=days,
        root_causes=causes,
        drill_down=ranked,
        feedback=episode.feedback,
        suppressed=episode.suppressed_by is not None,
        suppressed_by=episode.suppressed_by,
    )


# -- values -----------------------------------------------------------------------------


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _money(value: object) -> Decimal:
    if _missing(value):
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    return to_decimal(float(cast(float, value)))


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    to_pydatetime = getattr(value, "to_pydatetime", None)
    if to_pydatetime is not None:
        moment = to_pydatetime()
        assert isinstance(moment, datetime)
        return moment.date()
    raise InputError(f"not a day: {value!r}")

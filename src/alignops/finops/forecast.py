"""Daily cost forecasts with intervals: statsforecast's MSTL (weekly season, ETS trend).

Each series (a team, a model, a budget's scope …) is its daily cost. A day without a row
inside a series' span cost nothing, so it is filled with 0 before fitting. What fits a
series depends on how much of it there is (decision 0040):

- ``MSTL``: two seasons or more (14 days at ``season_length=7``): the series is split
  into a weekly pattern (STL, repeated forward) and the rest, whose trend AutoETS
  (``ZZN``: error and trend chosen by AICc, no season) carries forward with its intervals;
- ``ETS``: 8–13 days: AutoETS ``ZZN`` on the series as it is (too short for a season);
- ``mean``: 2–7 days (too few for ETS): the mean day, with Student-t prediction
  intervals from the days' spread;
- ``constant``: every day the same amount (no spend at all, a flat fee, a single day):
  that amount, with a zero-width interval; no model is fitted.

Before fitting, runs of one or two days far off their weekly baseline (spikes) are
replaced by it, so a one-off is not carried forward. MSTL's intervals are scaled per
weekday (weekends vary less) and widened by a backtest of the last four weeks (errors
ahead are larger than in-sample ones). Costs are never negative: the mean and the
bounds are clipped at 0 (a credit in the history can pull a fit below zero; spend
cannot go there). A period's total is :func:`forecast_totals`;
:func:`forecast_ledger` forecasts the ledger's series for ``alignops cost forecast``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

from alignops.anomaly.impact import EXACT
from alignops.errors import UsageError
from alignops.finops.queries import COST_METRICS, dimension_column, filtered

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import NDArray

    from alignops.finops.engine import LedgerEngine

__all__ = [
    "FORECAST_MODELS",
    "HISTORY_DAYS",
    "MAX_HORIZON_DAYS",
    "Band",
    "LedgerForecast",
    "SeriesForecast",
    "daily_history",
    "forecast_columns",
    "forecast_daily",
    "forecast_ledger",
    "forecast_totals",
    "last_charge_day",
]

FORECAST_MODELS = ("MSTL", "ETS", "mean", "constant")
"""The values of a forecast's ``model`` column, from most history to least."""

_MIN_ETS = 8
"""AutoETS needs 8 days: under that it refuses ('tiny datasets') or divides by zero."""

_PARALLEL_FROM = 64
"""Series at which fitting is spread over 2 processes (bench/forecast_bench.py)."""


@dataclass(frozen=True, slots=True)
class _Series:
    code: int
    first: int  # proleptic ordinal of the first day
    values: NDArray[np.float64]

    @property
    def last(self) -> int:
        return self.first + len(self.values) - 1


def forecast_columns(levels: Sequence[int] = (80, 95)) -> list[str]:
    """The columns of :func:`forecast_daily`'s result for these levels."""
    bounds = [f"{side}-{level}" for level in sorted(levels) for side in ("lo", "hi")]
    return ["unique_id", "day", "mean", *bounds, "model"]


def forecast_daily(
    history: pd.DataFrame,
    *,
    until: date,
    levels: Sequence[int] = (80, 95),
    season_length: int = 7,
    through: date | None = None,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Forecast each series' daily cost for every day after its last day up to ``until``.

    ``history``: columns ``unique_id`` (any hashable, ``None`` included), ``day`` (a
    date) and ``cost`` (``Decimal``, float or int); rows of the same series and day are
    added. ``through``: the history is complete through this day, so a series that ends
    earlier continues with zero-cost days up to it (its forecast starts after it).

    Returns columns ``unique_id``, ``day`` (a date), ``mean``, ``lo-L`` and ``hi-L`` for
    each level ``L`` (floats, clipped at 0, ``lo-95 ≤ lo-80 ≤ mean ≤ hi-80 ≤ hi-95``) and
    ``model`` (one of :data:`FORECAST_MODELS`), sorted by series then day. ``n_jobs``:
    processes for fitting; default 1 under 64 series, else up to 2.
    """
    import pandas as pd

    levels = _checked_levels(levels)
    if season_length < 1:
        raise UsageError(f"season_length must be at least 1, got {season_length}")
    columns = forecast_columns(levels)
    series, uniques = _series(history, through)
    end = until.toordinal()
    due = [s for s in series if s.last < end]
    if not due:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})[columns]

    frames: list[pd.DataFrame] = []
    flat, tiny, short, seasonal = [], [], [], []
    for s in due:
        if np.all(s.values == s.values[0]):
            flat.append(s)
        elif len(s.values) < _MIN_ETS:
            tiny.append(s)
        elif season_length == 1 or len(s.values) < 2 * season_length:
            short.append(s)
        else:
            seasonal.append(s)
    jobs = n_jobs if n_jobs is not None else _default_jobs(len(seasonal) + len(short))
    if seasonal:
        widen = _backtest_widening(seasonal, levels, season_length)
        frames.append(_statsforecast(seasonal, "MSTL", end, levels, season_length, jobs, widen))
    if short:
        frames.append(_statsforecast(short, "ETS", end, levels, season_length, jobs))
    if tiny:
        frames.append(_mean_forecast(tiny, end, levels))
    if flat:
        frames.append(_constant_forecast(flat, end, levels))

    result = pd.concat(frames, ignore_index=True)
    bounds = [c for c in columns if c.startswith(("lo-", "hi-"))]
    result[["mean", *bounds]] = result[["mean", *bounds]].clip(lower=0.0)
    result = result.sort_values(["code", "ordinal"], kind="stable").reset_index(drop=True)
    result["unique_id"] = [uniques[c] for c in result["code"]]
    result["day"] = [date.fromordinal(int(o)) for o in result["ordinal"]]
    return result[columns]


def forecast_totals(forecast: pd.DataFrame) -> pd.DataFrame:
    """Each series' forecast summed over its days: ``unique_id``, ``days``, ``mean`` and
    the bounds of :func:`forecast_daily`'s result.

    The bounds are the sums of the daily bounds. The daily errors are normal, and the
    standard deviation of a sum is at most the sum of the standard deviations, so the
    interval of the total is at least as wide as its exact one (never too narrow).
    """
    import pandas as pd

    values = [c for c in forecast.columns if c == "mean" or c.startswith(("lo-", "hi-"))]
    if forecast.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ["unique_id", "days", *values]})
    codes, _ = pd.factorize(forecast["unique_id"], use_na_sentinel=False)
    grouped = forecast[values].groupby(codes, sort=True)
    totals = grouped.sum().reset_index(drop=True)
    first_rows = np.unique(codes, return_index=True)[1]
    totals.insert(0, "unique_id", [forecast["unique_id"].iloc[i] for i in first_rows])
    totals.insert(1, "days", grouped.size().to_numpy())
    return totals


# -- preparing the history ----------------------------------------------------------------


def _checked_levels(levels: Sequence[int]) -> list[int]:
    checked = []
    for level in levels:
        if isinstance(level, bool) or not isinstance(level, int) or not 0 < level < 100:
            raise UsageError(f"forecast levels are whole percents between 1 and 99, got {level!r}")
        checked.append(level)
    if not checked:
        raise UsageError("forecast levels: give at least one, e.g. 80 and 95")
    return sorted(set(checked))


def _day(value: Any) -> int:
    if isinstance(value, datetime):
        return value.date().toordinal()
    if isinstance(value, date):
        return value.toordinal()
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return int(value.to_pydatetime().date().toordinal())
    raise UsageError(f"history: day {value!r} is not a date")


def _cost(value: Any, uid: Any, day: int) -> float:
    if isinstance(value, Decimal):
        number = float(value) if value.is_finite() else math.nan
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
    if not math.isfinite(number):
        raise UsageError(
            f"history: series {uid!r}, day {date.fromordinal(day)}: cost {value!r} is not a number"
        )
    return number


def _series(history: pd.DataFrame, through: date | None) -> tuple[list[_Series], list[Any]]:
    """The series of ``history``, each filled with zero-cost days over its span."""
    import pandas as pd

    missing = [c for c in ("unique_id", "day", "cost") if c not in history.columns]
    if missing:
        raise UsageError(
            f"history: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            "expected unique_id, day, cost"
        )
    codes, _ = pd.factorize(history["unique_id"], use_na_sentinel=False)
    # the ids as given (factorize turns None into NaN): each code's first row
    first_rows = np.unique(codes, return_index=True)[1]
    uniques = [history["unique_id"].iloc[i] for i in first_rows]
    days = np.fromiter((_day(d) for d in history["day"]), dtype=np.int64, count=len(history))
    costs = np.fromiter(
        (
            _cost(c, uniques[code], int(d))
            for c, code, d in zip(history["cost"], codes, days, strict=True)
        ),
        dtype=np.float64,
        count=len(history),
    )
    last_day = through.toordinal() if through is not None else None
    series = []
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for rows in np.split(order, bounds) if len(order) else []:
        first = int(days[rows].min())
        last = int(days[rows].max())
        if last_day is not None:
            last = max(last, last_day)
        values = np.zeros(last - first + 1)
        np.add.at(values, days[rows] - first, costs[rows])
        series.append(_Series(int(codes[rows[0]]), first, values))
    return series, uniques


# -- fitting -----------------------------------------------------------------------------


def _default_jobs(count: int) -> int:
    if count < _PARALLEL_FROM:
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def _statsforecast(
    series: list[_Series],
    kind: str,
    end: int,
    levels: list[int],
    season_length: int,
    n_jobs: int,
    widen: float = 1.0,
) -> pd.DataFrame:
    """MSTL (or plain AutoETS) fitted to each series, ``end - last`` days ahead, the
    intervals' half-widths times ``widen``."""
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, AutoETS, Naive

    if kind == "MSTL":
        model: Any = MSTL(
            season_length=season_length,
            trend_forecaster=AutoETS(model="ZZN"),
            alias="forecast",
        )
        fallback: Any = AutoETS(model="ZZN", alias="forecast")
    else:
        model = AutoETS(model="ZZN", alias="forecast")
        fallback = Naive(alias="forecast")
    # statsforecast needs a common last day per call: align every series on the latest
    # last day by shifting its dates (the dates of a series do not enter the models).
    latest = max(s.last for s in series)
    horizon = end - min(s.last for s in series)
    ids = np.concatenate([np.full(len(s.values), s.code) for s in series])
    ds = np.concatenate([np.arange(latest - len(s.values) + 1, latest + 1) for s in series]).astype(
        "int64"
    )
    frame = pd.DataFrame(
        {
            "unique_id": ids,
            "ds": pd.to_datetime(ds - date(1970, 1, 1).toordinal(), unit="D"),
            "y": np.concatenate(_without_spikes(series, season_length)),
        }
    )
    engine: Any = StatsForecast(models=[model], freq="D", n_jobs=n_jobs, fallback_model=fallback)
    seasonal = kind == "MSTL"
    raw = engine.forecast(h=horizon, df=frame, level=list(levels), fitted=seasonal)
    step = raw.groupby("unique_id", sort=False).cumcount().to_numpy() + 1
    last_of = {s.code: s.last for s in series}
    codes = raw["unique_id"].astype(int).to_numpy()
    ordinal = np.array([last_of[int(c)] for c in codes]) + step
    out = pd.DataFrame({"code": codes, "ordinal": ordinal})
    out["mean"] = raw["forecast"].to_numpy(dtype=float)
    factor = np.full(len(out), widen)
    if seasonal:
        fitted = engine.forecast_fitted_values()
        ratios = _seasonal_spread(series, fitted, season_length)
        factor *= np.array(
            [ratios[int(c)][int(o) % season_length] for c, o in zip(codes, ordinal, strict=True)]
        )
    for level in levels:
        lo = raw[f"forecast-lo-{level}"].to_numpy(dtype=float)
        hi = raw[f"forecast-hi-{level}"].to_numpy(dtype=float)
        out[f"lo-{level}"] = out["mean"] - (out["mean"] - lo) * factor
        out[f"hi-{level}"] = out["mean"] + (hi - out["mean"]) * factor
    out["model"] = kind
    return out[out["ordinal"] <= end]


_SPIKE_SCORE = 6.0
"""Robust score from which a day is a spike (decision 0031's scorer: against the same
weekdays of the 4 weeks before, in units of their usual error)."""

_SPIKE_DAYS = 2
"""Longest run of spike days replaced before fitting; a longer one is a change."""


def _without_spikes(series: list[_Series], season_length: int) -> list[NDArray[np.float64]]:
    """Each series' values with one- and two-day spikes (or dips) replaced by their
    baseline: a one-off day, such as a batch job run once, is not carried forward by the
    trend nor the weekly pattern. Runs of 3 days or more are kept (a change the forecast
    must follow), as is everything before the scorer has 5 weeks to learn from."""
    from alignops.anomaly import score_series

    longest = max(len(s.values) for s in series)
    rows = np.full((len(series), longest), np.nan)
    for i, s in enumerate(series):
        rows[i, longest - len(s.values) :] = s.values
    season = season_length if season_length > 1 else 1
    scores = score_series(
        rows,
        season=season,
        window=4 * season if season > 1 else 28,
        threshold=_SPIKE_SCORE,
        direction="both",
    )
    cleaned = []
    for i, s in enumerate(series):
        values = s.values.copy()
        offset = longest - len(values)
        flagged = np.flatnonzero(scores.anomalous[i, offset:])
        if len(flagged):
            runs = np.split(flagged, np.flatnonzero(np.diff(flagged) > 1) + 1)
            for run in runs:
                if len(run) <= _SPIKE_DAYS:
                    values[run] = np.maximum(scores.baseline[i, offset + run], 0.0)
        cleaned.append(values)
    return cleaned


_BACKTEST_SEASONS = 4
"""Seasons held out by the backtest that sizes the intervals (4 weeks of daily costs)."""

_BACKTEST_SERIES = 16
"""Series the backtest refits at most (evenly spread over the series given)."""

_MAX_WIDENING = 2.0
"""The backtest widens intervals at most this much (it is a correction of the in-sample
errors' optimism, about 1.25 on weekly costs, not a forecast of its own)."""

_MEDIAN_ABS_NORMAL = 0.6744897501960817
"""Median of |z| for a standard normal z: median |error| / this estimates σ."""


def _backtest_widening(series: list[_Series], levels: list[int], season_length: int) -> float:
    """How much wider than MSTL's own intervals its errors on the last few weeks were.

    MSTL's intervals come from the in-sample errors of the seasonally adjusted series,
    and the seasonal part, fitted to the same days, has absorbed some of their noise; the
    seasonal part carried forward is itself an estimate. So the in-sample errors
    understate the errors ahead (by about a quarter on weekly costs). Up to 16 series
    with 8 seasons or more are refitted without their last 4 seasons; each one's
    standardized errors ((actual − forecast) / the forecast's standard deviation) give
    its spread ratio, robustly (median |error| / 0.674: a spike in the held-out weeks
    does not count as spread); the widening is the median ratio over the series, kept
    within [1, 2] (intervals are only widened, and by a correction, not a new model).
    """
    hold = _BACKTEST_SEASONS * season_length
    usable = [s for s in series if len(s.values) >= hold + 4 * season_length]
    if not usable:
        return 1.0
    step = len(usable) / min(len(usable), _BACKTEST_SERIES)
    chosen = [usable[int(i * step)] for i in range(min(len(usable), _BACKTEST_SERIES))]
    train = [_Series(s.code, s.first, s.values[:-hold]) for s in chosen]
    train = [s for s in train if not np.all(s.values == s.values[0])]
    if not train:
        return 1.0
    level = max(levels)
    z = NormalDist().inv_cdf(0.5 + level / 200)
    back = _statsforecast(
        train, "MSTL", max(s.last for s in train) + hold, levels, season_length, 1
    )
    ratios = []
    for s in chosen:
        rows = back[back["code"] == s.code]
        rows = rows[rows["ordinal"] <= s.last]
        actual = s.values[rows["ordinal"].to_numpy() - s.first]
        sd = (rows[f"hi-{level}"].to_numpy() - rows["mean"].to_numpy()) / z
        keep = sd > 0
        if keep.any():
            scaled = (actual[keep] - rows["mean"].to_numpy()[keep]) / sd[keep]
            ratios.append(float(np.median(np.abs(scaled))) / _MEDIAN_ABS_NORMAL)
    if not ratios:
        return 1.0
    return min(max(1.0, float(np.median(ratios))), _MAX_WIDENING)


_SPREAD_PRIOR = 4
"""Pseudo-days at the series' overall error variance added to each season position's own
(shrinks the per-weekday spread towards the overall one when a position has few days)."""


def _seasonal_spread(
    series: list[_Series], fitted: pd.DataFrame, season_length: int
) -> dict[int, NDArray[np.float64]]:
    """Per series, how much wider (or narrower) than average each season position's
    one-step errors are: costs vary in proportion to their level, so a quiet weekend day
    varies less than a busy weekday, which an additive model's one interval width misses.
    """
    errors = (fitted["y"] - fitted["forecast"]).to_numpy(dtype=float)
    codes = fitted["unique_id"].astype(int).to_numpy()
    by_code = {s.code: s for s in series}
    ratios: dict[int, NDArray[np.float64]] = {}
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for rows in np.split(order, bounds):
        s = by_code[int(codes[rows[0]])]
        error = errors[rows]  # in time order: fitted values keep each series' order
        position = (s.first + np.arange(len(error))) % season_length
        keep = np.isfinite(error)
        overall = float(np.mean(error[keep] ** 2)) if keep.any() else 0.0
        ratio = np.ones(season_length)
        if overall > 0:
            for p in range(season_length):
                own = error[keep & (position == p)]
                variance = (float(np.sum(own**2)) + _SPREAD_PRIOR * overall) / (
                    len(own) + _SPREAD_PRIOR
                )
                ratio[p] = math.sqrt(variance / overall)
        ratios[s.code] = ratio
    return ratios


def _rows(series: list[_Series], end: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    codes = np.concatenate([np.full(end - s.last, s.code) for s in series])
    ordinals = np.concatenate([np.arange(s.last + 1, end + 1) for s in series])
    return codes.astype(np.int64), ordinals.astype(np.int64)


def _mean_forecast(series: list[_Series], end: int, levels: list[int]) -> pd.DataFrame:
    """The mean day of a few days, with Student-t prediction intervals (iid days)."""
    import pandas as pd
    from scipy import stats

    codes, ordinals = _rows(series, end)
    counts = [end - s.last for s in series]
    out = pd.DataFrame({"code": codes, "ordinal": ordinals})
    means = [float(s.values.mean()) for s in series]
    out["mean"] = np.repeat(means, counts)
    for level in levels:
        half = []
        for s in series:
            n = len(s.values)
            if n < 2:
                half.append(0.0)
                continue
            quantile = float(stats.t.ppf(0.5 + level / 200, df=n - 1))
            half.append(quantile * float(s.values.std(ddof=1)) * math.sqrt(1 + 1 / n))
        spread = np.repeat(half, counts)
        out[f"lo-{level}"] = out["mean"] - spread
        out[f"hi-{level}"] = out["mean"] + spread
    out["model"] = "mean"
    return out


def _constant_forecast(series: list[_Series], end: int, levels: list[int]) -> pd.DataFrame:
    import pandas as pd

    codes, ordinals = _rows(series, end)
    out = pd.DataFrame({"code": codes, "ordinal": ordinals})
    out["mean"] = np.repeat([float(s.values[0]) for s in series], [end - s.last for s in series])
    for level in levels:
        out[f"lo-{level}"] = out["mean"]
        out[f"hi-{level}"] = out["mean"]
    out["model"] = "constant"
    return out


# -- the ledger's forecast ----------------------------------------------------------------

HISTORY_DAYS = 365
"""Days of daily cost (ending on the ledger's last day of data) a forecast learns from."""

MAX_HORIZON_DAYS = 366
"""How far past the ledger's data :func:`forecast_ledger` forecasts (a weekly pattern and
a trend say little about next year's spend beyond that)."""

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Band:
    """A forecast amount and its 80 % and 95 % interval bounds."""

    mean: float
    lo80: float
    hi80: float
    lo95: float
    hi95: float

    def plus(self, amount: Decimal) -> Band:
        """The band moved by an exact amount (spend already known)."""
        value = float(amount)
        return Band(
            self.mean + value,
            self.lo80 + value,
            self.hi80 + value,
            self.lo95 + value,
            self.hi95 + value,
        )

    def to_dict(self) -> dict[str, str]:
        """Money to the cent, as decimal strings."""
        return {
            "mean": _cents(self.mean),
            "lo80": _cents(self.lo80),
            "hi80": _cents(self.hi80),
            "lo95": _cents(self.lo95),
            "hi95": _cents(self.hi95),
        }


@dataclass(frozen=True)
class SeriesForecast:
    """One value of the ``by`` dimensions in one currency: spend so far in the period,
    the forecast of each day to come and their sum."""

    values: tuple[str | None, ...]
    currency: str | None
    model: str
    """One of :data:`FORECAST_MODELS`."""
    history_days: int
    """Days the forecast learned from (first day with a charge through the data's end)."""
    to_date: Decimal
    """Exact spend from the period's first day through the data's last day."""
    days: tuple[tuple[date, Band], ...]
    forecast: Band
    """The days' sum (bounds: sums of the daily bounds, :func:`forecast_totals`)."""

    @property
    def total(self) -> Band:
        """Spend to date plus the forecast: the period's expected spend through ``until``."""
        return self.forecast.plus(self.to_date)


@dataclass(frozen=True)
class LedgerForecast:
    """Every series' forecast from the day after the ledger's data through ``until``."""

    by: tuple[str, ...]
    metric: str
    today: date
    since: date
    """First day of the spend counted as ``to_date`` (the month of ``today``)."""
    data_through: date | None
    """The ledger's last day of data up to ``today`` (``None``: no charges)."""
    until: date
    series: tuple[SeriesForecast, ...]
    """Largest expected total first."""

    def to_dict(self) -> dict[str, Any]:
        """For ``-o json``: money to the cent as decimal strings (``toDateExact`` exact)."""
        return {
            "by": list(self.by),
            "metric": self.metric,
            "today": self.today.isoformat(),
            "since": self.since.isoformat(),
            "dataThrough": self.data_through.isoformat() if self.data_through else None,
            "until": self.until.isoformat(),
            "levels": [80, 95],
            "series": [
                {
                    "values": dict(zip(self.by, s.values, strict=True)),
                    "currency": s.currency,
                    "model": s.model,
                    "historyDays": s.history_days,
                    "toDate": _cents(s.to_date),
                    "toDateExact": _exact(s.to_date),
                    "forecast": s.forecast.to_dict(),
                    "total": s.total.to_dict(),
                    "daily": [{"day": d.isoformat(), **band.to_dict()} for d, band in s.days],
                }
                for s in self.series
            ],
        }


def last_charge_day(engine: LedgerEngine, today: date) -> date | None:
    """The latest day with a charge up to ``today``: how far the ledger's data goes."""
    charges = filtered(engine.charges(), end=today + timedelta(days=1))
    frame = engine.execute(charges.aggregate(last=charges.ChargePeriodStart.max()))
    last = frame["last"].iloc[0] if len(frame) else None
    if last is None or last != last:  # None or NaT
        return None
    return _as_date(last)


def daily_history(
    engine: LedgerEngine,
    *,
    by: Sequence[str],
    start: date,
    end: date,
    metric: str = "EffectiveCost",
) -> pd.DataFrame:
    """Cost per day, ``by`` value and currency of the charges starting in ``[start, end)``:
    columns ``day`` (date), each dimension, ``currency``, ``cost`` (Decimal)."""
    if metric not in COST_METRICS:
        raise UsageError(f"unknown cost metric {metric!r}; expected one of {COST_METRICS}")
    charges = filtered(engine.charges(), start=start, end=end)
    keys = [charges.ChargePeriodStart.date().name("day")]
    keys += [charges[dimension_column(d)].name(d) for d in by]
    keys.append(charges.BillingCurrency.name("currency"))
    frame = engine.execute(charges.group_by(keys).aggregate(cost=charges[metric].sum()))
    frame["day"] = [_as_date(d) for d in frame["day"]]
    frame["cost"] = [Decimal(0) if c is None else Decimal(c) for c in frame["cost"]]
    for column in [*by, "currency"]:
        frame[column] = [None if v is None or v != v else str(v) for v in frame[column]]
    return frame


def forecast_ledger(
    engine: LedgerEngine,
    *,
    by: Sequence[str] = (),
    today: date,
    until: date,
    metric: str = "EffectiveCost",
    progress: Callable[[str], None] | None = None,
) -> LedgerForecast:
    """Forecast the ledger's daily cost per ``by`` value and currency through ``until``.

    Learns from up to :data:`HISTORY_DAYS` days ending on the ledger's last day of data
    up to ``today`` (billing exports arrive late: the days after it are forecast, not
    counted as zero); spend to date counts from the first day of ``today``'s month.
    """
    for dimension in by:
        dimension_column(dimension)
    report = progress or (lambda _: None)
    since = today.replace(day=1)
    report(f"reading the ledger's last day of data ({engine.name})")
    through = last_charge_day(engine, today)
    if through is None:
        return LedgerForecast(tuple(by), metric, today, since, None, until, ())
    if until <= through:
        raise UsageError(
            f"--until {until}: the ledger has data through {through}; give a later day"
        )
    if (until - through).days > MAX_HORIZON_DAYS:
        raise UsageError(
            f"--until {until}: forecasts reach at most {MAX_HORIZON_DAYS} days past the "
            f"ledger's data (through {through})"
        )
    report(f"reading daily cost by {', '.join(by) or 'total'} ({engine.name})")
    start = min(since, through - timedelta(days=HISTORY_DAYS - 1))
    frame = daily_history(
        engine, by=by, start=start, end=through + timedelta(days=1), metric=metric
    )
    keys = [*by, "currency"]
    frame["unique_id"] = list(zip(*(frame[k] for k in keys), strict=True)) if len(frame) else []
    learn = frame[frame["day"] > through - timedelta(days=HISTORY_DAYS)]
    report(f"forecasting {learn['unique_id'].nunique()} series to {until} (statsforecast)")
    result = forecast_daily(
        learn[["unique_id", "day", "cost"]], until=until, levels=(80, 95), through=through
    )
    series = []
    with localcontext(EXACT):
        spent: dict[Any, Decimal] = {}
        for uid, day, cost in zip(frame["unique_id"], frame["day"], frame["cost"], strict=True):
            if day >= since:
                spent[uid] = spent.get(uid, Decimal(0)) + cost
        first = learn.groupby("unique_id", sort=False)["day"].min().to_dict()
        for uid, rows in result.groupby("unique_id", sort=False):
            days = tuple(
                (d, Band(m, lo80, hi80, lo95, hi95))
                for d, m, lo80, hi80, lo95, hi95 in zip(
                    rows["day"],
                    rows["mean"],
                    rows["lo-80"],
                    rows["hi-80"],
                    rows["lo-95"],
                    rows["hi-95"],
                    strict=True,
                )
            )
            sums = [float(rows[c].sum()) for c in ("mean", "lo-80", "hi-80", "lo-95", "hi-95")]
            series.append(
                SeriesForecast(
                    values=tuple(uid[:-1]),
                    currency=uid[-1],
                    model=str(rows["model"].iloc[0]),
                    history_days=(through - first[uid]).days + 1,
                    to_date=spent.get(uid, Decimal(0)),
                    days=days,
                    forecast=Band(*sums),
                )
            )
    series.sort(key=lambda s: (-s.total.mean, s.currency or "", [v or "" for v in s.values]))
    return LedgerForecast(tuple(by), metric, today, since, through, until, tuple(series))


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()  # type: ignore[no-any-return]
    return date.fromisoformat(str(value)[:10])


def _cents(value: float | Decimal) -> str:
    amount = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return str(amount.quantize(_CENT, rounding=ROUND_HALF_EVEN))


def _exact(value: Decimal) -> str:
    """All the digits that matter: ``4382.5``, not ``4382.500000000000000000``."""
    with localcontext() as context:
        context.prec = 80
        return format(value.normalize(), "f") if value else "0"

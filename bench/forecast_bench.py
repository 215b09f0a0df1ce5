"""Benchmark of alignops.finops.forecast.forecast_daily: 200 series × 365 days, 30 ahead.

Each run generates ``--series`` series of ``--days`` + 30 daily costs (the last 30 held
out): level log-uniform in [20, 5000]; a linear trend of −20 % to +60 % a year; a weekly
cycle (weekend days × (1 − U(0, 0.6)), ±5 % jitter per weekday); multiplicative normal
noise with a standard deviation σ ∈ U(2 %, 8 %) of the expected value; one level shift
(× 1 ± U(10 %, 40 %)) in a third of the series, somewhere in the history.

Timed, each the median of ``--repeats`` runs in this process:

- importing statsforecast (once, in a fresh interpreter: it is not part of a forecast);
- ``forecast_daily(history, until=last + 30 days)`` — the headline; its defaults spread
  the fit over 2 processes from 64 series, so it is timed with ``n_jobs`` 1 and 2 too;
- the named baseline, an AutoETS search with a weekly season (``AutoETS(season_length=7)``,
  model ``ZZZ``: every error, trend and season type, chosen by AICc) through
  StatsForecast. It is slow, so it runs once, on ``--baseline-series`` (50) evenly spread
  series, and its time is scaled to all series (× series / subset); said in the table.

Accuracy on the 30 held-out days, for both on the baseline's subset and for
forecast_daily on all series: MASE (mean absolute error over the in-sample mean absolute
error of the seasonal naive forecast, season 7: < 1 beats "same as last week"), sMAPE,
and how many held-out days the 80 % and 95 % intervals hold.

Usage: python bench/forecast_bench.py [--series 200] [--days 365] [--repeats 3]
                                      [--baseline-series 50] [--no-write]
Prints JSON (also bench/out/forecast.json) and a table; unless --no-write, writes the
table into docs/performance.md (section ``forecast``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section

ROOT = Path(__file__).resolve().parents[1]
HOLD = 30
SEASON = 7
START = date(2025, 1, 6)
BAR_SECONDS = 15.0

_STARTED = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:7.1f} s] {message}", file=sys.stderr, flush=True)


def generate(seed: int, series: int, days: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Observed and expected costs, series × (days + HOLD)."""
    rng = np.random.default_rng(seed)
    n = days + HOLD
    day = np.arange(n)
    level = np.exp(rng.uniform(np.log(20), np.log(5000), series))[:, None]
    trend = 1 + rng.uniform(-0.2, 0.6, series)[:, None] * day / 365
    weekend = np.isin((START.weekday() + day) % 7, [5, 6])
    weekly = 1 - rng.uniform(0.0, 0.6, series)[:, None] * weekend
    weekly = weekly + rng.normal(0, 0.05, (series, 7))[:, day % 7]
    shift = np.ones((series, n))
    for s in range(series):
        if rng.random() < 1 / 3:
            onset = int(rng.integers(60, days - 30))
            shift[s, onset:] *= 1 + rng.choice([-1, 1]) * rng.uniform(0.1, 0.4)
    expected = level * trend * weekly * shift
    sigma = rng.uniform(0.02, 0.08, series)[:, None]
    observed = np.maximum(expected * (1 + sigma * rng.standard_normal((series, n))), 0.0)
    return observed, expected


def history_frame(observed: NDArray[np.float64], days: int) -> pd.DataFrame:
    series = observed.shape[0]
    dates = [START + timedelta(days=i) for i in range(days)]
    return pd.DataFrame(
        {
            "unique_id": np.repeat([f"s{i:03d}" for i in range(series)], days),
            "day": dates * series,
            "cost": observed[:, :days].ravel(),
        }
    )


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the fitting processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def import_seconds() -> float:
    """Seconds to import statsforecast in a fresh interpreter (median of 3)."""
    code = "import time; t = time.perf_counter(); import statsforecast.models, statsforecast; print(time.perf_counter() - t)"
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    ]
    return statistics.median(runs)


def accuracy(
    mean: NDArray[np.float64],
    bounds: dict[str, NDArray[np.float64]],
    observed: NDArray[np.float64],
    days: int,
) -> dict[str, float]:
    """MASE (season 7), sMAPE and interval coverage over series × held-out days."""
    actual = observed[:, days:]
    train = observed[:, :days]
    naive = np.mean(np.abs(train[:, SEASON:] - train[:, :-SEASON]), axis=1)
    mase = np.mean(np.abs(mean - actual), axis=1) / np.where(naive > 0, naive, np.nan)
    denominator = np.abs(mean) + np.abs(actual)
    smape = np.where(denominator > 0, 2 * np.abs(mean - actual) / denominator, 0.0)
    return {
        "mase": float(np.nanmean(mase)),
        "smape": float(np.mean(smape)),
        "coverage80": float(np.mean((actual >= bounds["lo-80"]) & (actual <= bounds["hi-80"]))),
        "coverage95": float(np.mean((actual >= bounds["lo-95"]) & (actual <= bounds["hi-95"]))),
    }


def pivot(result: pd.DataFrame, ids: list[str], column: str) -> NDArray[np.float64]:
    table = result.pivot(index="unique_id", columns="day", values=column)
    return table.loc[ids].to_numpy(dtype=float)


def run(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    log("importing statsforecast in a fresh interpreter (3×)")
    imported = import_seconds()
    from alignops.finops.forecast import forecast_daily

    observed, _ = generate(args.seed, args.series, args.days)
    history = history_frame(observed, args.days)
    ids = [f"s{i:03d}" for i in range(args.series)]
    until = START + timedelta(days=args.days + HOLD - 1)
    forecast_daily(history.head(SEASON * 4), until=until)  # warm: imports, first calls

    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    result = pd.DataFrame()
    for label, jobs in (("default", None), ("n_jobs=1", 1), ("n_jobs=2", 2)):
        runs, cpus = [], []
        for i in range(args.repeats):
            log(f"forecast_daily {label}, run {i + 1}/{args.repeats}")
            started, used = time.perf_counter(), cpu_seconds()
            result = forecast_daily(history, until=until, n_jobs=jobs)
            runs.append(time.perf_counter() - started)
            cpus.append(cpu_seconds() - used)
        timings[label] = statistics.median(runs)
        cpu[label] = statistics.median(cpus)
    models = result.groupby("unique_id")["model"].first().value_counts().to_dict()
    columns = ("lo-80", "hi-80", "lo-95", "hi-95")
    mean = pivot(result, ids, "mean")
    ours_all = accuracy(mean, {c: pivot(result, ids, c) for c in columns}, observed, args.days)

    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    count = min(args.baseline_series, args.series)
    subset = [int(i * args.series / count) for i in range(count)]
    sub_ids = [ids[i] for i in subset]
    frame = history[history["unique_id"].isin(sub_ids)].rename(columns={"day": "ds", "cost": "y"})
    frame["ds"] = pd.to_datetime(frame["ds"])
    log(f"baseline: AutoETS(season_length=7) search on {count} series, once")
    started = time.perf_counter()
    engine = StatsForecast(models=[AutoETS(season_length=SEASON)], freq="D", n_jobs=1)
    baseline = engine.forecast(h=HOLD, df=frame, level=[80, 95])
    baseline_seconds = time.perf_counter() - started
    baseline = baseline.rename(
        columns={"AutoETS": "mean", **{f"AutoETS-{c}": c for c in columns}, "ds": "day"}
    )
    baseline[["mean", *columns]] = baseline[["mean", *columns]].clip(lower=0.0)
    sub_observed = observed[subset]
    theirs = accuracy(
        pivot(baseline, sub_ids, "mean"),
        {c: pivot(baseline, sub_ids, c) for c in columns},
        sub_observed,
        args.days,
    )
    ours_sub = accuracy(
        mean[subset], {c: pivot(result, ids, c)[subset] for c in columns}, sub_observed, args.days
    )
    return {
        "series": args.series,
        "days": args.days,
        "horizon": HOLD,
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "import_seconds": imported,
        "forecast_seconds": timings,
        "forecast_cpu_seconds": cpu,
        "models": models,
        "accuracy_all": ours_all,
        "baseline": {
            "name": "AutoETS(season_length=7) search (ZZZ)",
            "series": count,
            "seconds": baseline_seconds,
            "seconds_scaled": baseline_seconds * args.series / count,
            "accuracy": theirs,
            "ours_on_subset": ours_sub,
        },
        "bar_seconds": BAR_SECONDS,
        "passes": timings["default"] < BAR_SECONDS,
        "load_average": [load_before, os.getloadavg()[0]],
    }


def pct(share: float, places: int = 1) -> str:
    return f"{share * 100:.{places}f} %"


def table(r: dict[str, Any]) -> str:
    t, c, b = r["forecast_seconds"], r["forecast_cpu_seconds"], r["baseline"]
    ours, theirs, whole = b["ours_on_subset"], b["accuracy"], r["accuracy_all"]
    models = ", ".join(f"{k} {v}" for k, v in r["models"].items())
    ratio = b["seconds_scaled"] / t["default"]
    lines = [
        f"{r['series']} series × {r['days']} days of generated daily cost (weekly cycle, trend, "
        f"multiplicative noise 2–8 %, a level shift in a third), forecast {r['horizon']} days "
        f"ahead with 80/95 % intervals; times are medians of {r['repeats']} runs "
        f"(1-minute load average {r['load_average'][0]:.1f} before, {r['load_average'][1]:.1f} after: "
        f"{'a quiet machine' if max(r['load_average']) < 1.5 else 'other work was running; times are longer than on a quiet machine'}).",
        "",
        "| what | wall seconds | CPU seconds | bar |",
        "|---|---:|---:|---|",
        f"| `forecast_daily` (MSTL(7) + AutoETS ZZN trend, backtest-sized intervals), default n_jobs | **{t['default']:.1f}** | {c['default']:.1f} | < {r['bar_seconds']:.0f} s: {'met' if r['passes'] else 'NOT met'} |",
        f"| … n_jobs=1 | {t['n_jobs=1']:.1f} | {c['n_jobs=1']:.1f} | |",
        f"| … n_jobs=2 | {t['n_jobs=2']:.1f} | {c['n_jobs=2']:.1f} | |",
        f"| importing statsforecast (fresh interpreter, not in the above) | {r['import_seconds']:.1f} | | |",
        f"| baseline: AutoETS search with a weekly season (ZZZ), run once on {b['series']} series, scaled × {r['series'] / b['series']:g} | {b['seconds_scaled']:.1f} ({b['seconds']:.1f} measured) | | {ratio:.1f}× slower |",
        "",
        f"Models chosen: {models}.",
        "",
        "| accuracy on the 30 held-out days | MASE (season 7) | sMAPE | 80 % interval holds | 95 % interval holds |",
        "|---|---:|---:|---:|---:|",
        f"| `forecast_daily`, all {r['series']} series | {whole['mase']:.3f} | {pct(whole['smape'], 2)} | {pct(whole['coverage80'])} | {pct(whole['coverage95'])} |",
        f"| `forecast_daily`, the baseline's {b['series']} series | {ours['mase']:.3f} | {pct(ours['smape'], 2)} | {pct(ours['coverage80'])} | {pct(ours['coverage95'])} |",
        f"| AutoETS search, the same {b['series']} series | {theirs['mase']:.3f} | {pct(theirs['smape'], 2)} | {pct(theirs['coverage80'])} | {pct(theirs['coverage95'])} |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-series", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    result = run(args)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    (out / "forecast.json").write_text(text + "\n")
    print(text)
    body = table(result)
    print(body)
    if not args.no_write:
        write_section(ROOT / "docs" / "performance.md", "forecast", body)


if __name__ == "__main__":
    main()

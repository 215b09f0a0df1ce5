"""Benchmark of alignops.anomaly.score_series on generated daily costs with injected spikes.

Each run generates ``--series`` series of ``--points`` daily values (currency per day):

- level log-uniform in [20, 5000]; a linear trend of −20 % to +60 % a year;
- a weekly cycle: weekend days × (1 − U(0, 0.6)) and a fixed ±5 % jitter per weekday;
- multiplicative heavy-tailed noise: Student's t with ν degrees of freedom, scaled to a
  standard deviation σ ∈ U(2 %, 8 %) of the expected value (costs are never negative);
- 0–2 level shifts per series (× 1 ± U(15 %, 60 %), lasting to the end); the ``window``
  (28) days from a shift's onset are not scored, by any detector (neither hit nor false
  alarm): the first days of a shift are a real change, not noise, and every detector
  takes a while to learn the new level;
- 5 injected spikes per series at known scorable days, each + k·σ·expected with k
  log-uniform in [6, 60] (small: a 6σ spike on 5 % noise is +30 %; large: +300 %).

Scored days: from day 28 (the window) on, outside the shift spans. A flag on a spike day
is a hit, on any other scored day a false alarm; precision = hits / flags, recall = hits /
spikes. Detectors, all flagging upward moves only (costs that rise), on the same data:

- ``score_series`` at its defaults with ``season=7`` (daily costs have a weekly cycle):
  window 28, threshold 4 — the headline;
- ``… excluding flagged``: the same, but points flagged anomalous are left out of later
  baselines and spreads (iterated to the fixed point through the public API);
- ``… same-position MAD``: the spread as first specified, 1.4826 × MAD of the same
  ``window // season`` values as the baseline (floored at 1 % of the baseline);
- ``score_series season=1``: the same code ignoring the weekly cycle;
- ``rolling mean ± z·std``: the 99 % band (z = 2.576) of the trailing 28 days' mean and
  standard deviation; flags above the band;
- ``oracle``: knows each day's expected value and the noise scale, flags at 4 robust
  standard deviations of the noise (1.4826 × MAD of its distribution): what the same
  threshold gives without any estimation error. It knows the level shifts too, so it
  never flags one (— in that column).

statsforecast (AutoETS/MSTL intervals) is compared only if it is installed in the
environment; it is not a dependency of alignops.

The headline uses ν = --nu (10); the stress rows use ν = 3, 5 and Gaussian noise.
Figures are medians over --seeds seeds. Also timed: scoring all series at once (2-D) and
one series at a time.

With --variants it also measures the choices of decision 0031 one at a time (the spread's
errors relative or absolute, its window, the errors needed before scoring, a baseline
corrected by its median error), through a re-implementation of score_series' formulas
that is first checked to flag exactly what score_series flags.

Usage: python bench/anomaly_bench.py [--series 200] [--points 365] [--seeds 5] [--variants]
                                     [--no-write]
Prints JSON (also bench/out/anomaly.json) and a table to stdout; unless --no-write, writes
the table into docs/performance.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from alignops.anomaly import score_series
from alignops.anomaly.robust import MAD_TO_SIGMA, nan_median, trailing

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section

ROOT = Path(__file__).resolve().parents[1]
WINDOW = 28
SEASON = 7
THRESHOLD = 4.0
Z99 = 2.576
SPIKES = 5
SIZE_BUCKETS = ((6.0, 10.0), (10.0, 20.0), (20.0, 60.0))
STRESS = (3.0, 5.0, float("inf"))

Flags = NDArray[np.bool_]

_STARTED = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:7.1f} s] {message}", file=sys.stderr, flush=True)


# -- data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Costs:
    """Generated series and what is known about them."""

    values: NDArray[np.float64]  # series × days
    expected: NDArray[np.float64]  # without noise nor spikes
    sigma: NDArray[np.float64]  # noise sd as a share of expected, per series (column)
    spikes: Flags  # injected spike days
    size: NDArray[np.float64]  # spike size in σ (0 elsewhere)
    scored: Flags  # days every detector is judged on
    shifts_up: list[tuple[int, int]]  # (series, onset) of upward level shifts
    noise_scale: float  # 1.4826 × MAD of the unit noise distribution


def unit_noise(rng: np.random.Generator, nu: float, shape: tuple[int, ...]) -> NDArray[np.float64]:
    """Student's t with ν degrees of freedom scaled to variance 1 (normal for ν = ∞)."""
    if np.isinf(nu):
        return rng.standard_normal(shape)
    return rng.standard_t(nu, shape) / np.sqrt(nu / (nu - 2))


def generate(seed: int, nu: float, series: int, points: int) -> Costs:
    rng = np.random.default_rng(seed)
    day = np.arange(points)
    level = np.exp(rng.uniform(np.log(20), np.log(5000), series))[:, None]
    trend = 1 + rng.uniform(-0.2, 0.6, series)[:, None] * day / 365
    weekend = np.isin(day % 7, [5, 6])
    weekly = 1 - rng.uniform(0.0, 0.6, series)[:, None] * weekend
    weekly = weekly + rng.normal(0, 0.05, (series, 7))[:, day % 7]
    sigma = rng.uniform(0.02, 0.08, series)[:, None]

    shift = np.ones((series, points))
    unscored = np.zeros((series, points), bool)
    unscored[:, :WINDOW] = True
    shifts_up = []
    for s in range(series):
        for _ in range(rng.integers(0, 3)):
            onset = int(rng.integers(WINDOW, points))
            up = bool(rng.integers(0, 2))
            shift[s, onset:] *= 1 + (1 if up else -1) * rng.uniform(0.15, 0.6)
            unscored[s, onset : onset + WINDOW] = True
            if up:
                shifts_up.append((s, onset))
    expected = level * trend * weekly * shift
    values = np.maximum(expected * (1 + sigma * unit_noise(rng, nu, (series, points))), 0.0)

    spikes = np.zeros((series, points), bool)
    size = np.zeros((series, points))
    for s in range(series):
        days = rng.choice(np.flatnonzero(~unscored[s]), SPIKES, replace=False)
        k = np.exp(rng.uniform(np.log(6), np.log(60), SPIKES))
        values[s, days] += k * sigma[s, 0] * expected[s, days]
        spikes[s, days] = True
        size[s, days] = k

    reference = unit_noise(np.random.default_rng(0), nu, (1_000_000,))
    noise_scale = MAD_TO_SIGMA * float(np.median(np.abs(reference - np.median(reference))))
    return Costs(values, expected, sigma, spikes, size, ~unscored, shifts_up, noise_scale)


# -- detectors ------------------------------------------------------------------------------


def ours(costs: Costs) -> Flags:
    return score_series(costs.values, season=SEASON, window=WINDOW).anomalous


def ours_no_season(costs: Costs) -> Flags:
    return score_series(costs.values, season=1, window=WINDOW).anomalous


def ours_excluding_flagged(costs: Costs) -> Flags:
    """Flagged points left out of later baselines and spreads, to the fixed point.

    Baseline and spread at a point depend only on earlier points, so masking the flags of
    one pass and scoring again settles at least one more point per pass; it stops when the
    flags no longer change (the sequential definition's result).
    """
    x = costs.values
    flags = np.zeros(x.shape, bool)
    for _ in range(x.shape[1]):
        s = score_series(np.where(flags, np.nan, x), season=SEASON, window=WINDOW)
        with np.errstate(invalid="ignore"):
            again = (x - s.baseline) / s.spread >= THRESHOLD
        if np.array_equal(again, flags):
            break
        flags = again
    return flags


def same_position_mad(costs: Costs) -> Flags:
    """The spread as first specified: 1.4826 × MAD of the baseline's own values."""
    x = costs.values
    same = trailing(x, count=WINDOW // SEASON, step=SEASON)
    baseline, count = nan_median(same)
    mad, _ = nan_median(np.abs(same - baseline[..., None]))
    spread = np.maximum(MAD_TO_SIGMA * mad, np.maximum(1e-9, 0.01 * np.abs(baseline)))
    with np.errstate(invalid="ignore"):
        return (count >= 3) & ((x - baseline) / spread >= THRESHOLD)


def rolling_band(costs: Costs) -> Flags:
    """Above the 99 % band of the trailing 28 days' mean ± 2.576 standard deviations."""
    x = costs.values
    past = trailing(x, count=WINDOW)
    count = np.count_nonzero(~np.isnan(past), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(np.where(count[..., None] >= 3, past, np.nan), axis=-1)
        std = np.nanstd(np.where(count[..., None] >= 3, past, np.nan), axis=-1, ddof=1)
        return (count >= 3) & (x > mean + Z99 * std)


def oracle(costs: Costs) -> Flags:
    noise = (costs.values - costs.expected) / (costs.sigma * costs.expected)
    return noise / costs.noise_scale >= THRESHOLD


DETECTORS: dict[str, Callable[[Costs], Flags]] = {
    "score_series season=7 (defaults)": ours,
    "… excluding flagged points": ours_excluding_flagged,
    "… same-position MAD spread": same_position_mad,
    "score_series season=1": ours_no_season,
    "rolling mean ± 2.576·std (99 %)": rolling_band,
    "oracle (knows expected value and noise scale)": oracle,
}


# -- design variants (--variants) ----------------------------------------------------------


def spread_variant(
    x: NDArray[np.float64],
    *,
    relative: bool = True,
    spread_window: int = 3 * WINDOW,
    min_errors: int = 14,
    level_corrected: bool = False,
) -> Flags:
    """score_series' formulas (docs/anomalies.md) with one choice changed at a time.

    ``relative=False``: errors in the series' units instead of relative to the scale;
    ``level_corrected``: the baseline moved by the median of its recent errors (which would
    follow a trend, but is no longer "the median of the same season position").
    """
    baseline, same = nan_median(trailing(x, count=WINDOW // SEASON, step=SEASON))
    baseline[same < 3] = np.nan
    level, _ = nan_median(np.abs(trailing(x, count=WINDOW)))
    if relative:
        scale = np.fmax(np.abs(baseline), np.nan_to_num(0.1 * level))
        scale = np.where(np.isnan(baseline), np.nan, np.maximum(scale, 1e-9))
    else:
        scale = np.where(np.isnan(baseline), np.nan, 1.0)
    errors = (x - baseline) / scale
    past = trailing(errors, count=spread_window)
    center, seen = nan_median(past)
    mad, _ = nan_median(np.abs(past - center[..., None]))
    relative_floor = 0.01 if relative else 0.0
    spread = np.maximum(MAD_TO_SIGMA * mad, relative_floor) * scale
    spread = np.where(seen >= min_errors, np.maximum(spread, 0.01 * np.abs(baseline)), np.nan)
    expected = baseline + (center * scale if level_corrected else 0.0)
    with np.errstate(invalid="ignore"):
        return (x - expected) / spread >= THRESHOLD


VARIANTS: dict[str, dict[str, Any]] = {
    "as built: relative errors, spread_window 84, 14 errors": {},
    "errors in the series' units": {"relative": False},
    "spread_window 28": {"spread_window": 28},
    "spread_window 56": {"spread_window": 56},
    "spread_window 168": {"spread_window": 168},
    "7 errors before scoring": {"min_errors": 7},
    "21 errors before scoring": {"min_errors": 21},
    "baseline corrected by its median error": {"level_corrected": True},
}


def design_variants(seeds: list[int], series: int, points: int) -> dict[str, Any]:
    """Precision/recall of each variant, ν = 10 and normal noise; checks the first is ours."""
    out: dict[str, Any] = {}
    for nu in (10.0, float("inf")):
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
        for seed in seeds:
            costs = generate(seed, nu, series, points)
            if not np.array_equal(spread_variant(costs.values), ours(costs)):
                sys.exit("FAILED: the variants' re-implementation differs from score_series")
            for name, options in VARIANTS.items():
                runs[name].append(judge(costs, spread_variant(costs.values, **options)))
        out["inf" if np.isinf(nu) else f"{nu:g}"] = {
            name: {key: statistics.median(r[key] for r in results) for key in results[0]}
            for name, results in runs.items()
        }
        log(f"variants ν={nu:g} done")
    return out


def render_variants(variants: dict[str, Any]) -> str:
    lines = [
        "| variant | ν = 10: precision / recall, false alarms per series-year | normal noise |",
        "|---|---:|---:|",
    ]
    for name in VARIANTS:
        cells = [
            f"{m['precision']:.3f} / {m['recall']:.3f}, {m['false_alarms_per_series_year']:.2f}"
            for m in (variants[nu][name] for nu in variants)
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# -- metrics --------------------------------------------------------------------------------


def judge(costs: Costs, flags: Flags) -> dict[str, float]:
    scored = costs.scored
    hits = int(np.sum(flags & costs.spikes & scored))
    false = int(np.sum(flags & ~costs.spikes & scored))
    spikes = int(np.sum(costs.spikes & scored))
    out = {
        "precision": hits / (hits + false) if hits + false else 1.0,
        "recall": hits / spikes,
        "false_alarms": float(false),
        "false_alarms_per_series_year": false / int(np.sum(scored)) * 365,
    }
    for low, high in SIZE_BUCKETS:
        bucket = costs.spikes & scored & (costs.size >= low) & (costs.size < high)
        out[f"recall_{low:g}-{high:g}σ"] = float(np.sum(flags & bucket) / max(np.sum(bucket), 1))
    onsets = costs.shifts_up
    caught = sum(bool(flags[s, onset : onset + 7].any()) for s, onset in onsets)
    out["up_shifts_flagged_within_7_days"] = caught / len(onsets) if onsets else 1.0
    return out


def evaluate(nu: float, seeds: list[int], series: int, points: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in DETECTORS}
    for seed in seeds:
        costs = generate(seed, nu, series, points)
        for name, detector in DETECTORS.items():
            runs[name].append(judge(costs, detector(costs)))
        headline = runs[next(iter(DETECTORS))][-1]
        log(f"ν={nu:g} seed {seed}: P={headline['precision']:.3f} R={headline['recall']:.3f}")
    return {
        name: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for name, results in runs.items()
    }


def timing(series: int, points: int, repeat: int = 5) -> dict[str, float]:
    """Wall and CPU seconds (medians of ``repeat``) to score all series, 2-D and one by one.

    CPU time is this process's own: on a machine shared with other work it is the figure
    that says what scoring costs; wall time says what it took.
    """
    costs = generate(1, 10.0, series, points)

    def all_at_once() -> None:
        score_series(costs.values, season=SEASON, window=WINDOW)

    def one_by_one() -> None:
        for row in costs.values:
            score_series(row, season=SEASON, window=WINDOW)

    out: dict[str, float] = {}
    for name, fn in (("all_at_once", all_at_once), ("one_series_at_a_time", one_by_one)):
        wall, cpu = [], []
        for _ in range(repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            fn()
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        out[f"{name}_s"] = statistics.median(wall)
        out[f"{name}_cpu_s"] = statistics.median(cpu)
    out["load_average_1min"] = os.getloadavg()[0]
    return out


# -- report ---------------------------------------------------------------------------------


def render(r: dict[str, Any]) -> str:
    head = r["headline"]
    lines = [
        f"{r['series']} series × {r['points']} days, {SPIKES} spikes per series, "
        f"noise Student's t ν = {r['nu']:g}; medians of {len(r['seeds'])} seeds.",
        "",
        "| detector | precision | recall | false alarms / series-year | recall 6–10σ "
        "| 10–20σ | 20–60σ | up-shifts flagged ≤ 7 days |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in head.items():
        lines.append(
            f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} "
            f"| {m['false_alarms_per_series_year']:.2f} | {m['recall_6-10σ']:.3f} "
            f"| {m['recall_10-20σ']:.3f} | {m['recall_20-60σ']:.3f} "
            f"| {'—' if name.startswith('oracle') else format(m['up_shifts_flagged_within_7_days'], '.2f')} |"
        )
    lines += [
        "",
        "Tail stress (precision / recall, false alarms per series-year):",
        "",
        "| detector | "
        + " | ".join("normal noise" if nu == "inf" else f"ν = {nu}" for nu in r["stress"])
        + " |",
        "|---|" + "---:|" * len(r["stress"]),
    ]
    for name in DETECTORS:
        cells = [
            f"{m['precision']:.3f} / {m['recall']:.3f}, {m['false_alarms_per_series_year']:.2f}"
            for m in (r["stress"][nu][name] for nu in r["stress"])
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    t = r["timing"]
    lines += [
        "",
        f"Scoring {r['series']} × {r['points']}: {t['all_at_once_cpu_s']:.3f} s CPU "
        f"({t['all_at_once_s']:.3f} s wall) all at once (2-D), "
        f"{t['one_series_at_a_time_cpu_s']:.3f} s CPU ({t['one_series_at_a_time_s']:.3f} s wall) "
        f"one series at a time; medians of 5, load average {t['load_average_1min']:.1f} "
        f"on {os.cpu_count()} CPUs.",
        f"statsforecast: {r['statsforecast']}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--points", type=int, default=365)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--nu", type=float, default=10.0, help="headline noise tail (t's ν)")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/performance.md")
    parser.add_argument(
        "--variants", action="store_true", help="also measure the design variants (decision 0031)"
    )
    args = parser.parse_args()
    if args.seeds < 3:
        parser.error("--seeds must be at least 3 (medians of several runs)")
    if args.points < 2 * WINDOW:
        parser.error(f"--points must be at least {2 * WINDOW}")
    seeds = list(range(1, args.seeds + 1))
    installed = importlib.util.find_spec("statsforecast") is not None
    r: dict[str, Any] = {
        "series": args.series,
        "points": args.points,
        "seeds": seeds,
        "nu": args.nu,
        "spikes_per_series": SPIKES,
        "threshold": THRESHOLD,
        "headline": evaluate(args.nu, seeds, args.series, args.points),
        "stress": {
            ("inf" if np.isinf(nu) else f"{nu:g}"): evaluate(nu, seeds, args.series, args.points)
            for nu in STRESS
        },
        "timing": timing(args.series, args.points),
        "statsforecast": "installed but not compared (see docs/anomalies.md)"
        if installed
        else "not installed in .venv, not compared",
    }
    if args.variants:
        r["variants"] = design_variants(seeds, args.series, args.points)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    text = json.dumps(r, indent=2, ensure_ascii=False)
    (out / "anomaly.json").write_text(text + "\n")
    table = render(r)
    if args.variants:
        table += "\nDesign variants (decision 0031):\n\n" + render_variants(r["variants"])
    print(text)
    print(table)
    if not args.no_write:
        write_section(ROOT / "docs" / "performance.md", "anomaly", table)
        log("wrote docs/anomalies.md")


if __name__ == "__main__":
    main()

"""The cost report as one self-contained HTML page: charts where people would rather look.

:func:`write_html_report` reads the ledger once for each part and writes a page with

- daily cost over the window per model and per activity (stacked areas, one chart per
  currency), anomalies (:func:`~alignops.finops.cost_anomalies.detect_cost_anomalies`)
  shaded over their days and marked on their value's band;
- each budget's burn-down in its current period: cumulative spend, the forecast with its
  80 % and 95 % intervals to the period's end, the threshold lines
  (:func:`~alignops.finops.budgets.evaluate_budgets` with ``fire=False``: the report
  never fires a threshold nor sends a notification);
- the allocation (:func:`~alignops.finops.allocation.allocate`, the configured rules) by
  model, team, env and activity, with unallocated and total, to the cent.

The charts are inline SVG drawn here (no script, stylesheet, font or image from
anywhere: the page opens offline and prints). Hovering a day shows its numbers (SVG
``<title>``); every number drawn is also in a ``data-`` attribute, so tests and scripts
read what the page shows. Decision 0040.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from html import escape
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignops._version import __version__
from alignops.anomaly.impact import EXACT
from alignops.errors import UsageError
from alignops.finops.allocation import AllocationReport, allocate
from alignops.finops.budgets import BudgetStatus, evaluate_budgets
from alignops.finops.cost_anomalies import (
    DEFAULT_DIMENSIONS,
    UNTAGGED,
    CostAnomaly,
    detect_cost_anomalies,
)
from alignops.finops.forecast import daily_history, last_charge_day

if TYPE_CHECKING:
    from alignops.finops.engine import LedgerEngine
    from alignops.manifests.config import FinopsSettings
    from alignops.manifests.kinds.budget import Budget

__all__ = ["CHART_DIMENSIONS", "DEFAULT_WINDOW_DAYS", "TABLE_DIMENSIONS", "write_html_report"]

DEFAULT_WINDOW_DAYS = 90
"""Days the charts cover when no start is given (ending on the ledger's last day)."""
CHART_DIMENSIONS = ("model", "activity")
"""One stacked chart of daily cost per value of each."""
TABLE_DIMENSIONS = ("model", "team", "env", "activity")
"""The allocation tables: one per dimension and one by all four."""
MAX_BANDS = 8
"""Values drawn apart in a chart; the rest are one band, ``other``."""

_PALETTE = (
    "#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#4f46e5",
)  # fmt: skip
_UNTAGGED_FILL, _OTHER_FILL = "#94a3b8", "#cbd5e1"
_INK, _GRID, _MUTED, _RED = "#0f172a", "#e2e8f0", "#64748b", "#dc2626"
_CENT = Decimal("0.01")
_FONT = 'font-family="DejaVu Sans, sans-serif" font-size="11"'


def write_html_report(
    path: Path,
    *,
    engine: LedgerEngine,
    settings: FinopsSettings,
    budgets: Sequence[Budget],
    start: date | None,
    end: date | None,
    today: date | None = None,
) -> None:
    """Write the cost report of charges starting in ``[start, end)`` to ``path``.

    Defaults: ``end`` the day after the ledger's last day of data up to ``today``,
    ``start`` :data:`DEFAULT_WINDOW_DAYS` before ``end`` (not before the first charge);
    ``today`` the UTC date. Budgets are shown in their period holding ``today``. Reads
    only (no threshold fires); the file is replaced atomically. Raises
    :class:`~alignops.errors.UsageError` when ``end`` is not after ``start``.
    """
    import jinja2

    day = today or datetime.now(UTC).date()
    metric = settings.cost_metric
    through = last_charge_day(engine, day)
    window_end = end or (through or day) + timedelta(days=1)
    last_day = window_end - timedelta(days=1)
    window_start = start or max(
        window_end - timedelta(days=DEFAULT_WINDOW_DAYS),
        min(_first_charge_day(engine) or last_day, last_day),
    )
    if window_end <= window_start:
        raise UsageError(f"the report's end {window_end} is not after its start {window_start}")
    anomalies: list[CostAnomaly] = []
    if through is not None and window_start <= min(window_end - timedelta(days=1), day):
        anomalies = detect_cost_anomalies(
            engine,
            dimensions=DEFAULT_DIMENSIONS,
            start=window_start,
            end=window_end,
            metric=metric,
            today=day,
        )
    charts = [
        chart
        for dimension in CHART_DIMENSIONS
        for chart in _cost_charts(engine, dimension, window_start, window_end, metric, anomalies)
    ]
    statuses = (
        evaluate_budgets(
            engine, budgets, notifier=None, audit=None, today=day, metric=metric, fire=False
        )
        if budgets
        else []
    )
    allocation = {
        dimension: _allocation(engine, (dimension,), window_start, window_end, settings)
        for dimension in TABLE_DIMENSIONS
    }
    combined = _allocation(engine, TABLE_DIMENSIONS, window_start, window_end, settings)
    template = resources.files("alignops.finops") / "templates" / "cost_report.html.j2"
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    page = env.from_string(template.read_text()).render(
        start=window_start,
        last=window_end - timedelta(days=1),
        through=through,
        today=day,
        metric=metric,
        engine=engine.name,
        version=__version__,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        charts=charts,
        anomalies=[_anomaly_row(a) for a in anomalies],
        budgets=[_budget_view(s) for s in statuses],
        allocation=[_allocation_view(allocation[d]) for d in TABLE_DIMENSIONS],
        combined=_allocation_view(combined),
        rules=[r.model_dump(mode="json", by_alias=True) for r in settings.allocation],
    )
    _write_atomically(path, page)


def _first_charge_day(engine: LedgerEngine) -> date | None:
    charges = engine.charges()
    frame = engine.execute(charges.aggregate(first=charges.ChargePeriodStart.min()))
    first = frame["first"].iloc[0] if len(frame) else None
    if first is None or first != first:  # None or NaT
        return None
    return first.date() if isinstance(first, datetime) else date.fromisoformat(str(first)[:10])


# -- cost over time ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Band:
    label: str
    fill: str
    values: list[Decimal]  # one per day, exact

    @property
    def total(self) -> Decimal:
        return sum(self.values, Decimal(0))


@dataclass(frozen=True)
class _Chart:
    dimension: str
    currency: str
    svg: str
    legend: list[dict[str, str]]
    total: str
    anomalies: int
    notes: list[str]


def _cost_charts(
    engine: LedgerEngine,
    dimension: str,
    start: date,
    end: date,
    metric: str,
    anomalies: list[CostAnomaly],
) -> list[_Chart]:
    """One stacked-area chart of daily cost per value of ``dimension`` per currency."""
    frame = daily_history(engine, by=[dimension], start=start, end=end, metric=metric)
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    index = {d: i for i, d in enumerate(days)}
    charts = []
    currencies = sorted({c or "" for c in frame["currency"]})
    for currency in currencies:
        with localcontext(EXACT):
            per_value: dict[str, list[Decimal]] = {}
            for day, value, cur, cost in zip(
                frame["day"], frame[dimension], frame["currency"], frame["cost"], strict=True
            ):
                if (cur or "") != currency:
                    continue
                row = per_value.setdefault(value or UNTAGGED, [Decimal(0)] * len(days))
                row[index[day]] += cost
            bands = _bands(per_value)
            marks = [a for a in anomalies if a.dimension == dimension and a.currency == currency]
            svg, notes = _stacked_svg(days, bands, marks, dimension, currency)
            total = sum((b.total for b in bands), Decimal(0))
        legend = [{"label": b.label, "fill": b.fill, "total": _cents(b.total)} for b in bands]
        charts.append(_Chart(dimension, currency, svg, legend, _cents(total), len(marks), notes))
    return charts


def _bands(per_value: dict[str, list[Decimal]]) -> list[_Band]:
    """The largest values apart (by total), the rest as ``other``, untagged last."""
    named = sorted(
        ((v, row) for v, row in per_value.items() if v != UNTAGGED),
        key=lambda item: (-sum(item[1], Decimal(0)), item[0]),
    )
    keep = MAX_BANDS if len(named) <= MAX_BANDS else MAX_BANDS - 1
    bands = [_Band(v, _PALETTE[i % len(_PALETTE)], row) for i, (v, row) in enumerate(named[:keep])]
    rest = named[keep:]
    if rest:
        summed = [sum(day, Decimal(0)) for day in zip(*(row for _, row in rest), strict=True)]
        bands.append(_Band(f"other ({len(rest)} values)", _OTHER_FILL, summed))
    if UNTAGGED in per_value:
        bands.append(_Band(UNTAGGED, _UNTAGGED_FILL, per_value[UNTAGGED]))
    return bands


@dataclass(frozen=True)
class _Frame:
    """Where a chart's plot area is and how days and amounts map into it."""

    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    days: int
    top_value: float

    @property
    def plot_width(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> int:
        return self.height - self.top - self.bottom

    def x(self, i: float) -> float:
        return self.left + self.plot_width * (i / max(self.days - 1, 1))

    def y(self, value: float) -> float:
        return self.top + self.plot_height * (1 - value / self.top_value)


def _stacked_svg(
    days: list[date],
    bands: list[_Band],
    anomalies: list[CostAnomaly],
    dimension: str,
    currency: str,
) -> tuple[str, list[str]]:
    notes = []
    stacked: list[list[float]] = []
    floor = [0.0] * len(days)
    credits = Decimal(0)
    for band in bands:
        top = [f + max(float(v), 0.0) for f, v in zip(floor, band.values, strict=True)]
        credits += sum((v for v in band.values if v < 0), Decimal(0))
        stacked.append(top)
        floor = top
    if credits < 0:
        notes.append(f"credits (negative costs, {_cents(credits)} {currency}) are not drawn")
    ticks = _ticks(max(floor, default=0.0))
    frame = _Frame(900, 260, 72, 10, 14, 30, len(days), ticks[-1])
    parts = [_svg_open(frame, "cost-chart", f'data-dimension="{escape(dimension)}"')]
    parts += _axes(frame, days, ticks)
    lower = [0.0] * len(days)
    for band, upper in zip(bands, stacked, strict=True):
        points = [(frame.x(i), frame.y(v)) for i, v in enumerate(upper)]
        points += [(frame.x(i), frame.y(v)) for i, v in reversed(list(enumerate(lower)))]
        parts.append(
            f'<polygon class="band" data-label="{escape(band.label)}" fill="{band.fill}" '
            f'fill-opacity="0.85" stroke="{band.fill}" stroke-width="0.5" '
            f'points="{_points(points)}"><title>{escape(band.label)}: '
            f"{_cents(band.total)} {escape(currency)}</title></polygon>"
        )
        lower = upper
    parts += _anomaly_marks(frame, days, bands, stacked, anomalies, currency)
    parts += _day_columns(frame, days, bands, currency)
    parts.append("</svg>")
    return "".join(parts), notes


def _anomaly_marks(
    frame: _Frame,
    days: list[date],
    bands: list[_Band],
    stacked: list[list[float]],
    anomalies: list[CostAnomaly],
    currency: str,
) -> list[str]:
    """Each anomaly: its days shaded, a ring on its value's band on the peak day."""
    if not days:
        return []
    parts = []
    step = frame.plot_width / max(len(days) - 1, 1)
    labels = [b.label for b in bands]
    for anomaly in anomalies:
        first = max((anomaly.day - days[0]).days, 0)
        last = min((anomaly.last_day - days[0]).days, len(days) - 1)
        if last < 0 or first > len(days) - 1:
            continue
        band = labels.index(anomaly.value) if anomaly.value in labels else None
        if band is None:  # drawn in "other"
            band = next((i for i, b in enumerate(labels) if b.startswith("other (")), None)
        peak = min(max((anomaly.peak_day - days[0]).days, 0), len(days) - 1)
        height = stacked[band][peak] if band is not None else 0.0
        title = escape(_anomaly_title(anomaly))
        x0 = frame.x(first) - step / 2
        parts.append(
            f'<g class="anomaly" data-dimension="{escape(anomaly.dimension)}" '
            f'data-value="{escape(anomaly.value)}" data-day="{anomaly.day}" '
            f'data-last-day="{anomaly.last_day}" data-impact="{_cents(anomaly.impact)}">'
            f"<title>{title}</title>"
            f'<rect x="{max(x0, frame.left):.1f}" y="{frame.top}" '
            f'width="{max(step * (last - first + 1), 2):.1f}" height="{frame.plot_height}" '
            f'fill="{_RED}" fill-opacity="0.10"/>'
            f'<circle cx="{frame.x(peak):.1f}" cy="{frame.y(height):.1f}" r="5" fill="none" '
            f'stroke="{_RED}" stroke-width="2"/></g>'
        )
    return parts


def _day_columns(frame: _Frame, days: list[date], bands: list[_Band], currency: str) -> list[str]:
    """An invisible column per day whose tooltip lists the day's cost per band."""
    parts = []
    step = frame.plot_width / max(len(days) - 1, 1)
    for i, day in enumerate(days):
        values = [(b.label, b.values[i]) for b in bands]
        total = sum((v for _, v in values), Decimal(0))
        lines = [f"{day} ({day:%a}): {_cents(total)} {currency}"]
        lines += [f"{label}: {_cents(v)}" for label, v in values if v]
        x0 = max(frame.x(i) - step / 2, frame.left)
        x1 = min(frame.x(i) + step / 2, frame.width - frame.right)
        parts.append(
            f'<rect class="day" data-day="{day}" data-total="{_cents(total)}" '
            f'x="{x0:.1f}" y="{frame.top}" width="{max(x1 - x0, 0.5):.1f}" '
            f'height="{frame.plot_height}" fill="#000" fill-opacity="0">'
            f"<title>{escape(chr(10).join(lines))}</title></rect>"
        )
    return parts


# -- budgets ----------------------------------------------------------------------------


def _budget_view(status: BudgetStatus) -> dict[str, Any]:
    return {
        "name": status.budget,
        "scope": ", ".join(f"{k}={v}" for k, v in sorted(status.scope.items())) or "all costs",
        "currency": status.currency,
        "period": status.period_label,
        "amount": _cents(status.amount),
        "actual": _cents(status.actual),
        "used": f"{status.used_percent:.1f}",
        "forecast": _cents(status.forecast),
        "forecast_percent": f"{status.forecast_percent:.1f}",
        "method": status.forecast_method,
        "through": status.data_through,
        "over": status.forecast >= status.amount,
        "fired": [
            f"{t.percent:g} %" + (" forecast" if t.basis == "forecast" else "")
            for t in status.fired
        ],
        "interval": (
            f"{_cents(status.forecast_points[-1].lo95)} – {_cents(status.forecast_points[-1].hi95)}"
            if status.forecast_points
            else None
        ),
        "svg": _burn_svg(status),
    }


def _burn_svg(status: BudgetStatus) -> str:
    """Cumulative spend, the forecast with its intervals, and the threshold lines."""
    period = (status.period_end - status.period_start).days
    days = [status.period_start + timedelta(days=i) for i in range(period)]
    amount = float(status.amount)
    points = status.forecast_points
    highest = max(
        [amount * t.percent / 100 for t in status.thresholds]
        + [float(status.actual), amount]
        + [float(p.hi95) for p in points]
    )
    ticks = _ticks(highest)
    frame = _Frame(900, 240, 72, 10, 14, 30, period, ticks[-1])
    parts = [
        _svg_open(
            frame,
            "burn-chart",
            f'data-budget="{escape(status.budget)}" data-actual="{_cents(status.actual)}" '
            f'data-forecast="{_cents(status.forecast)}" data-amount="{_cents(status.amount)}"',
        )
    ]
    parts += _axes(frame, days, ticks)

    def at(day: date) -> float:
        return frame.x((day - status.period_start).days)

    actual = [(at(p.day), frame.y(float(p.actual))) for p in status.daily]
    if points:
        start = actual[-1:] or [(at(points[0].day) - 0.0, frame.y(float(status.actual)))]
        for lo, hi, opacity in (("lo95", "hi95", 0.15), ("lo80", "hi80", 0.25)):
            upper = [(at(p.day), frame.y(float(getattr(p, hi)))) for p in points]
            lower = [(at(p.day), frame.y(float(getattr(p, lo)))) for p in reversed(points)]
            parts.append(
                f'<polygon class="interval-{hi[2:]}" fill="#7c3aed" fill-opacity="{opacity}" '
                f'points="{_points(start + upper + lower + start)}"/>'
            )
        mean = start + [(at(p.day), frame.y(float(p.mean))) for p in points]
        parts.append(
            f'<polyline class="forecast" fill="none" stroke="#7c3aed" stroke-width="2" '
            f'stroke-dasharray="6 4" points="{_points(mean)}"><title>forecast at the end of '
            f"{escape(status.period_label)}: {_cents(status.forecast)} {status.currency} "
            f"(95 %: {_cents(points[-1].lo95)} – {_cents(points[-1].hi95)})</title></polyline>"
        )
    if actual:
        parts.append(
            f'<polyline class="actual" fill="none" stroke="{_INK}" stroke-width="2.5" '
            f'points="{_points(actual)}"><title>spent through {status.data_through}: '
            f"{_cents(status.actual)} {status.currency}</title></polyline>"
        )
    by_limit: dict[Decimal, list[Any]] = {}
    for threshold in sorted(status.thresholds, key=lambda t: (t.percent, t.basis)):
        by_limit.setdefault(threshold.limit, []).append(threshold)
    label_y = float("inf")
    for limit, same in sorted(by_limit.items()):
        y = frame.y(float(limit))
        label_y = min(y - 3, label_y - 12)  # one line above its line, never on another
        reached = any(t.reached for t in same)
        colour = _RED if reached else _MUTED
        label = " · ".join(
            f"{t.percent:g} %" + (" forecast" if t.basis == "forecast" else "") for t in same
        )
        dashes = "8 3" if any(t.basis == "actual" for t in same) else "2 3"
        right = frame.width - frame.right
        parts.append(
            f'<g class="threshold" data-percent="{"|".join(f"{t.percent:g}" for t in same)}" '
            f'data-basis="{"|".join(t.basis for t in same)}" data-limit="{_cents(limit)}">'
            f'<line x1="{frame.left}" y1="{y:.1f}" x2="{right}" '
            f'y2="{y:.1f}" stroke="{colour}" stroke-width="1" stroke-dasharray="{dashes}"/>'
            f'<text x="{frame.left + 6}" y="{label_y:.1f}" fill="{colour}">'
            f"{escape(label)}: {_money(limit)} {escape(status.currency)}</text></g>"
        )
    if status.data_through is not None and status.period_start <= status.data_through:
        x = at(min(status.data_through, days[-1]))
        parts.append(
            f'<line class="data-through" x1="{x:.1f}" y1="{frame.top}" x2="{x:.1f}" '
            f'y2="{frame.top + frame.plot_height}" stroke="{_MUTED}" stroke-width="1"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


# -- allocation -------------------------------------------------------------------------


def _allocation(
    engine: LedgerEngine,
    by: Sequence[str],
    start: date,
    end: date,
    settings: FinopsSettings,
) -> AllocationReport:
    return allocate(
        engine,
        by=by,
        window="total",
        start=start,
        end=end,
        rules=settings.allocation,
        metric=settings.cost_metric,
    )


def _allocation_view(report: AllocationReport) -> dict[str, Any]:
    """Lines, then allocated, unallocated and total, per currency, to the cent."""
    groups = []
    for total in report.totals:
        lines = [
            {
                "values": [v if v is not None else UNTAGGED for v in line.values],
                "allocated": line.allocated,
                "cost": f"{line.cents:.2f}",
                "share": _share(report.share(line)),
            }
            for line in report.lines
            if line.currency == total.currency
        ]
        groups.append(
            {
                "currency": total.currency or "",
                "lines": lines,
                "allocated": f"{total.allocated_cents:.2f}",
                "unallocated": f"{total.unallocated_cents:.2f}",
                "total": f"{total.total_cents:.2f}",
            }
        )
    return {"by": list(report.by), "groups": groups}


# -- anomalies --------------------------------------------------------------------------


def _anomaly_title(anomaly: CostAnomaly) -> str:
    percent = f" ({anomaly.impact_percent:+.0f} %)" if anomaly.impact_percent is not None else ""
    causes = ", ".join(f"{c.dimension}={c.key}" for c in anomaly.root_causes[:3])
    return (
        f"anomaly {anomaly.dimension}={anomaly.value}, {anomaly.day} → {anomaly.last_day}: "
        f"{_signed(anomaly.impact)} {anomaly.currency}{percent}"
        + (f"; root cause {causes}" if causes else "")
        + (" (suppressed by feedback)" if anomaly.suppressed else "")
    )


def _anomaly_row(anomaly: CostAnomaly) -> dict[str, Any]:
    return {
        "dimension": anomaly.dimension,
        "value": anomaly.value,
        "first": anomaly.day,
        "last": anomaly.last_day,
        "currency": anomaly.currency,
        "actual": _cents(anomaly.actual),
        "expected": _cents(anomaly.expected),
        "impact": _cents(anomaly.impact),
        "percent": (
            f"{anomaly.impact_percent:+.0f} %" if anomaly.impact_percent is not None else "—"
        ),
        "causes": [
            f"{c.dimension}={c.key if c.key is not None else UNTAGGED}"
            + (f" ({c.share:.0%})" if c.share is not None else "")
            for c in anomaly.root_causes[:3]
        ],
        "feedback": anomaly.feedback.verdict if anomaly.feedback else None,
        "suppressed": anomaly.suppressed,
    }


# -- drawing ----------------------------------------------------------------------------


def _svg_open(frame: _Frame, kind: str, attributes: str) -> str:
    return (
        f'<svg class="{kind}" {attributes} width="100%" viewBox="0 0 {frame.width} '
        f'{frame.height}" preserveAspectRatio="xMinYMin meet" {_FONT} role="img">'
    )


def _axes(frame: _Frame, days: list[date], ticks: list[float]) -> list[str]:
    """Horizontal grid lines with amounts; day labels on Mondays or first days of months."""
    parts = []
    right = frame.width - frame.right
    for value in ticks:
        y = frame.y(value)
        parts.append(
            f'<line x1="{frame.left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="{_GRID}"/>'
            f'<text x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{_MUTED}">'
            f"{_short(value)}</text>"
        )
    monthly = len(days) > 120
    bottom = frame.top + frame.plot_height
    for i, day in enumerate(days):
        if (monthly and day.day == 1) or (not monthly and day.weekday() == 0):
            x = frame.x(i)
            parts.append(
                f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" '
                f'stroke="{_MUTED}"/><text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" '
                f'fill="{_MUTED}">{day:%b %d}</text>'
            )
    parts.append(
        f'<line x1="{frame.left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{_MUTED}"/>'
    )
    return parts


def _ticks(highest: float) -> list[float]:
    """0 and 4–6 round steps (1, 2 or 5 × 10ⁿ) up to at least ``highest``."""
    if highest <= 0:
        return [0.0, 1.0]
    raw = highest / 5
    magnitude = 10 ** _floor_log10(raw)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    count = int(-(-highest // step))
    return [step * i for i in range(count + 1)]


def _floor_log10(value: float) -> int:
    exponent = 0
    while value >= 10:
        value /= 10
        exponent += 1
    while value < 1:
        value *= 10
        exponent -= 1
    return exponent


def _points(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


# -- numbers ----------------------------------------------------------------------------


def _cents(value: Decimal | float) -> str:
    """Money to the cent (half to even), as in the allocation tables: ``1234.57``."""
    amount = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return f"{amount.quantize(_CENT, rounding=ROUND_HALF_EVEN):.2f}"


def _money(value: Decimal) -> str:
    return f"{value.quantize(_CENT, rounding=ROUND_HALF_EVEN):,.2f}"


def _signed(value: Decimal) -> str:
    return ("+" if value >= 0 else "") + _money(value)


def _short(value: float) -> str:
    """An axis amount: 1,500 · 2.5k · 1.2M."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value < 10 else f"{value:,.0f}"


def _share(share: Decimal | None) -> str:
    return "—" if share is None else f"{share * 100:.1f} %"


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)  # a report to share, not a secret (mkstemp makes 0600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

"""The HTML cost report on a real ledger: one self-contained page whose charts, tables
and budget burn-downs show the ledger's numbers, anomalies marked, nothing fired."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import numpy as np
import pytest

from alignops.errors import UsageError
from alignops.finops.engine import open_engine
from alignops.finops.html import write_html_report
from alignops.finops.ingest import ingest_paths
from alignops.finops.ledger import Ledger
from alignops.manifests import load_manifests
from alignops.manifests.config import FinopsSettings
from alignops.manifests.kinds.budget import Budget

from .test_forecast import focus_export

FIRST, LAST = date(2026, 1, 5), date(2026, 3, 20)
SPIKE = date(2026, 3, 17)  # a Tuesday: fraud-detection's inference costs triple
TODAY = date(2026, 3, 22)  # the export of the 21st has not arrived yet

BUDGETS = """\
apiVersion: alignops.dev/v1alpha1
kind: Budget
metadata:
  name: risk-monthly
spec:
  amount: 6000
  scope:
    tags:
      team: risk
  thresholds:
    - percent: 50
    - percent: 80
    - percent: 100
    - percent: 100
      basis: forecast
---
apiVersion: alignops.dev/v1alpha1
kind: Budget
metadata:
  name: everything-quarterly
spec:
  amount: 40000
  period: quarterly
"""

SETTINGS = FinopsSettings.model_validate(
    {"allocation": [{"dimension": "team", "untagged": "proportional"}]}
)


def cents(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):.2f}"


def charges() -> list[dict[str, object]]:
    """Daily costs with a weekly cycle and 5 % noise: two models with their inference,
    training and responsible-AI activities, and an untagged shared bill."""
    rng = np.random.default_rng(42)
    out: list[dict[str, object]] = []
    day = FIRST
    while day <= LAST:
        week = 1.0 if day.weekday() < 5 else 0.4
        spike = 3.0 if day == SPIKE else 1.0
        for model, team, activity, base, factor in (
            ("fraud-detection", "risk", "inference", 200.0, week * spike),
            ("fraud-detection", "risk", "explainability", 30.0, 1.0),
            ("churn", "growth", "training", 80.0, week),
            ("churn", "growth", "drift-monitoring", 10.0, 1.0),
        ):
            amount = base * factor * (1 + rng.normal(0, 0.05))
            tags = {"model": model, "team": team, "env": "production", "activity": activity}
            out.append({"day": day, "cost": Decimal(f"{amount:.2f}"), "tags": tags})
        out.append({"day": day, "cost": Decimal("25.00"), "tags": {}, "service": "Amazon S3"})
        day += timedelta(days=1)
    return out


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)


class Page(HTMLParser):
    """Every element of the page with its attributes, and the text inside each."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.open: list[Element] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.elements.append(element)
        if tag not in ("rect", "line", "circle", "polygon", "polyline", "meta", "br"):
            self.open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            if self.open.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element.text.append(data)

    def all(self, tag: str, **attrs: str) -> list[Element]:
        return [
            e
            for e in self.elements
            if e.tag == tag and all(e.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def classed(self, tag: str, name: str) -> list[Element]:
        return [
            e for e in self.elements if e.tag == tag and name in e.attrs.get("class", "").split()
        ]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    folder = tmp_path_factory.mktemp("html")
    export = focus_export(folder / "export.csv", charges())
    ledger = Ledger(folder / "ledger.duckdb")
    ingest_paths(ledger, [export], governed_tags=SETTINGS.governed_tags)
    return ledger


@pytest.fixture(scope="module")
def report(ledger: Ledger, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Page]:
    budgets = [r.model for r in load_manifests("finops/budgets.yaml", BUDGETS.encode())]
    assert all(isinstance(b, Budget) for b in budgets)
    path = tmp_path_factory.mktemp("out") / "reports" / "cost.html"
    with open_engine(ledger) as engine:
        write_html_report(
            path,
            engine=engine,
            settings=SETTINGS,
            budgets=budgets,
            start=None,
            end=None,
            today=TODAY,
        )
    return path, Page(path.read_text())


def sql(ledger: Ledger, query: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(ledger.path), read_only=True) as con:
        return con.execute(query).fetchall()


def test_page_is_self_contained(report: tuple[Path, Page]) -> None:
    path, page = report
    text = path.read_text()
    assert text.startswith("<!doctype html>")
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert not page.all("script") and not page.all("link") and not page.all("img")
    assert not page.all("iframe") and not page.all("object")
    for scheme in ("http:", "https:", "url(", "@import", "src=", "href="):
        assert scheme not in text.lower(), scheme
    # one SVG per chart: daily cost per model, per activity, and a burn-down per budget
    assert [s.attrs["data-dimension"] for s in page.classed("svg", "cost-chart")] == [
        "model",
        "activity",
    ]
    assert [s.attrs["data-budget"] for s in page.classed("svg", "burn-chart")] == [
        "risk-monthly",
        "everything-quarterly",
    ]


def test_daily_chart_numbers_are_the_ledgers(ledger: Ledger, report: tuple[Path, Page]) -> None:
    _, page = report
    daily = {
        day: cents(total)
        for day, total in sql(
            ledger,
            "SELECT CAST(ChargePeriodStart AS DATE), SUM(EffectiveCost) FROM charges GROUP BY 1",
        )
    }
    assert len(daily) == (LAST - FIRST).days + 1
    window_total = sum((c for (c,) in sql(ledger, "SELECT EffectiveCost FROM charges")), Decimal(0))
    for chart in page.classed("div", "chart")[:2]:
        assert chart.attrs["data-total"] == cents(window_total)
    columns = page.classed("rect", "day")
    assert len(columns) == 2 * len(daily)  # every day of the window, in both charts
    for column in columns:
        assert column.attrs["data-total"] == daily[date.fromisoformat(column.attrs["data-day"])]
    # the legend: each model's total over the window
    by_model = dict(sql(ledger, "SELECT x_Model, SUM(EffectiveCost) FROM charges GROUP BY 1"))
    legend = {
        e.attrs["data-label"]: e.attrs["data-total"]
        for e in page.all("span")
        if "data-label" in e.attrs
    }
    assert legend["fraud-detection"] == cents(by_model["fraud-detection"])  # type: ignore[arg-type]
    assert legend["(untagged)"] == cents(by_model[None])  # type: ignore[arg-type]
    assert {"inference", "training", "explainability", "drift-monitoring"} <= set(legend)


def test_spike_is_marked_on_the_charts(report: tuple[Path, Page]) -> None:
    _, page = report
    marks = [
        (g.attrs["data-dimension"], g.attrs["data-value"])
        for g in page.all("g")
        if "anomaly" in g.attrs.get("class", "")
        and date.fromisoformat(g.attrs["data-day"])
        <= SPIKE
        <= date.fromisoformat(g.attrs["data-last-day"])
    ]
    assert ("model", "fraud-detection") in marks
    assert ("activity", "inference") in marks
    rows = [r for r in page.all("tr") if r.attrs.get("data-day") == SPIKE.isoformat()]
    assert {(r.attrs["data-dimension"], r.attrs["data-value"]) for r in rows} >= {
        ("model", "fraud-detection"),
        ("team", "risk"),
    }


def test_allocation_tables_conserve_the_total(ledger: Ledger, report: tuple[Path, Page]) -> None:
    _, page = report
    (total,) = sql(ledger, "SELECT SUM(EffectiveCost) FROM charges")[0]
    assert isinstance(total, Decimal)
    tables = page.classed("table", "allocation")
    assert [t.attrs["data-by"] for t in tables] == [
        "model",
        "team",
        "env",
        "activity",
        "model,team,env,activity",
    ]
    rows = [e for e in page.all("tr") if "data-cost" in e.attrs]
    # each table: its lines, then allocated, unallocated, total (in that order)
    sums = [r for r in rows if "data-row" in r.attrs]
    assert len(sums) == 3 * len(tables)
    for i in range(len(tables)):
        allocated, unallocated, whole = (
            Decimal(r.attrs["data-cost"]) for r in sums[3 * i : 3 * i + 3]
        )
        assert whole == Decimal(cents(total))
        assert allocated + unallocated == whole
    # by model: no rule, the S3 bill stays unallocated; by team: split proportionally
    by_model = {r.attrs["data-values"]: r.attrs["data-cost"] for r in rows[:3]}
    expected = dict(
        sql(
            ledger,
            "SELECT coalesce(x_Model, '(untagged)'), SUM(EffectiveCost) FROM charges GROUP BY 1",
        )
    )
    assert by_model == {k: cents(v) for k, v in expected.items()}  # type: ignore[arg-type]
    assert sums[4].attrs["data-cost"] == "0.00"  # team: nothing left unallocated
    assert sums[1].attrs["data-cost"] == cents(Decimal("25.00") * ((LAST - FIRST).days + 1))


def test_budgets_burn_down_without_firing(ledger: Ledger, report: tuple[Path, Page]) -> None:
    _, page = report
    (risk,) = [
        s for s in page.classed("svg", "burn-chart") if s.attrs["data-budget"] == "risk-monthly"
    ]
    (spent,) = sql(
        ledger,
        "SELECT SUM(EffectiveCost) FROM charges WHERE x_Team = 'risk' "
        "AND ChargePeriodStart >= '2026-03-01' AND ChargePeriodStart < '2026-03-21'",
    )[0]
    assert risk.attrs["data-actual"] == cents(spent)  # type: ignore[arg-type]
    assert risk.attrs["data-amount"] == "6000.00"
    forecast = Decimal(risk.attrs["data-forecast"])
    assert forecast > spent  # eleven more days of March to spend
    thresholds = [g for g in page.all("g") if "threshold" in g.attrs.get("class", "")]
    limits = {g.attrs["data-limit"]: g.attrs["data-percent"] for g in thresholds}
    assert limits["3000.00"] == "50" and limits["6000.00"] == "100|100"
    # the intervals and the forecast line are drawn
    assert page.classed("polygon", "interval-95") and page.classed("polyline", "forecast")
    # read only: the report fires nothing
    assert sql(ledger, "SELECT count(*) FROM budget_events") == [(0,)]


def test_renders_to_pdf(report: tuple[Path, Page], tmp_path: Path) -> None:
    """The page lays out in a real HTML engine (WeasyPrint) into a few pages."""
    weasyprint = pytest.importorskip("weasyprint")
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    path, _ = report
    document = weasyprint.HTML(filename=str(path)).render()
    assert 2 <= len(document.pages) <= 8


def test_empty_ledger_and_bad_window(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "empty.duckdb")
    with ledger.connect():
        pass
    path = tmp_path / "empty.html"
    with open_engine(ledger) as engine:
        write_html_report(
            path,
            engine=engine,
            settings=FinopsSettings(),
            budgets=[],
            start=None,
            end=None,
            today=TODAY,
        )
        page = Page(path.read_text())
        assert not page.classed("svg", "cost-chart")
        assert "No charges in this window." in path.read_text()
        assert "No Budget in the config repository." in path.read_text()

        bad = tmp_path / "bad.html"
        with pytest.raises(UsageError, match="not after its start"):
            write_html_report(
                bad,
                engine=engine,
                settings=FinopsSettings(),
                budgets=[],
                start=date(2026, 3, 1),
                end=date(2026, 3, 1),
                today=TODAY,
            )
        assert not bad.exists()


def test_many_values_share_an_other_band(tmp_path: Path) -> None:
    """Eleven models: the seven largest have their own band, the other four one band,
    and the bands still add up to the ledger's total."""
    rows: list[dict[str, object]] = [
        {
            "day": FIRST + timedelta(days=d),
            "cost": Decimal(10 * (m + 1)) + Decimal("0.01"),
            "tags": {"model": f"m{m:02d}"},
        }
        for m in range(11)
        for d in range(10)
    ]
    ledger = Ledger(tmp_path / "ledger.duckdb")
    ingest_paths(
        ledger, [focus_export(tmp_path / "e.csv", rows)], governed_tags=SETTINGS.governed_tags
    )
    path = tmp_path / "many.html"
    with open_engine(ledger) as engine:
        write_html_report(
            path,
            engine=engine,
            settings=SETTINGS,
            budgets=[],
            start=None,
            end=None,
            today=FIRST + timedelta(days=10),
        )
    page = Page(path.read_text())
    (chart,) = [c for c in page.classed("div", "chart") if c.attrs.get("data-dimension") == "model"]
    bands = [p.attrs["data-label"] for p in page.classed("polygon", "band")][:8]
    assert bands == ["m10", "m09", "m08", "m07", "m06", "m05", "m04", "other (4 values)"]
    spans = [e for e in page.all("span") if "data-label" in e.attrs][:8]  # the model chart's
    legend = {e.attrs["data-label"]: Decimal(e.attrs["data-total"]) for e in spans}
    # (10 + 20 + 30 + 40 + 4 × 0.01) × 10 days
    assert legend["other (4 values)"] == Decimal("1000.40")
    assert sum(legend.values()) == Decimal(chart.attrs["data-total"]) == Decimal("6601.10")

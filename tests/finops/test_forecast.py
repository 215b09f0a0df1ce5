"""forecast_daily: MSTL forecasts of daily costs that track the truth, with intervals that
cover what happens, and sensible answers for short, flat and patchy series."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from alignops.cli.cost_forecast import register
from alignops.errors import UsageError
from alignops.finops.forecast import forecast_columns, forecast_daily, forecast_totals
from alignops.finops.ingest import ingest_paths
from alignops.finops.ledger import Ledger
from alignops.manifests.config import FinopsSettings

from ..conftest import Repo
from .conftest import FOCUS_SAMPLE

START = date(2026, 1, 5)  # a Monday
WEEK = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.55, 0.45])  # weekends cost about half


def history(series: dict[object, list[float]], start: date = START) -> pd.DataFrame:
    rows = [
        (uid, start + timedelta(days=i), Decimal(str(round(v, 6))))
        for uid, values in series.items()
        for i, v in enumerate(values)
    ]
    return pd.DataFrame(rows, columns=["unique_id", "day", "cost"])


def assert_ordered(forecast: pd.DataFrame) -> None:
    lo95, lo80, mean, hi80, hi95 = (
        forecast[c].to_numpy() for c in ("lo-95", "lo-80", "mean", "hi-80", "hi-95")
    )
    assert (lo95 <= lo80).all()
    assert (lo80 <= mean).all()
    assert (mean <= hi80).all()
    assert (hi80 <= hi95).all()
    assert (lo95 >= 0).all()


def test_weekly_series_with_trend_tracked_and_covered() -> None:
    """40 series, 120 days each, 30 held out. Truth: level × (1 + growth·t) × weekday
    factor; observed: truth × (1 + 5 % normal noise), so a day's cost is off its expected
    value by 4 % on average (0.8 σ). A forecast that has learned the level, trend and week
    must be nearer the truth than that: mean error ≤ 3.5 % over all series, ≤ 8 % (2 σ)
    for any one. The 95 % interval must hold ≥ 90 % of the 1,200 held-out days (95 % is
    the aim; 90 % leaves room for sampling: 1,200 days give a standard error of 0.6 %
    on the coverage and for the estimation error of 40 short series)."""
    rng = np.random.default_rng(7)
    days, hold = 120, 30
    t = np.arange(days + hold)
    train, truth, actual = {}, {}, {}
    for k in range(40):
        level = rng.uniform(50, 2000)
        growth = rng.uniform(-0.15, 0.6) / 365
        expected = level * (1 + growth * t) * WEEK[t % 7]
        observed = expected * (1 + rng.normal(0, 0.05, len(t)))
        train[f"team-{k}"] = list(observed[:days])
        truth[f"team-{k}"], actual[f"team-{k}"] = expected[days:], observed[days:]
    until = START + timedelta(days=days + hold - 1)

    forecast = forecast_daily(history(train), until=until)

    assert list(forecast.columns) == forecast_columns((80, 95))
    assert set(forecast["model"]) == {"MSTL"}
    errors, inside = [], []
    for uid, rows in forecast.groupby("unique_id"):
        assert list(rows["day"]) == [START + timedelta(days=days + i) for i in range(hold)]
        mean = rows["mean"].to_numpy()
        errors.append(float(np.mean(np.abs(mean - truth[uid]) / truth[uid])))
        inside += list(
            (actual[uid] >= rows["lo-95"].to_numpy()) & (actual[uid] <= rows["hi-95"].to_numpy())
        )
    assert len(errors) == 40
    assert np.mean(errors) <= 0.035, errors
    assert max(errors) <= 0.08, errors
    assert np.mean(inside) >= 0.90
    assert_ordered(forecast)


def test_days_without_rows_cost_nothing() -> None:
    """A service billed on weekdays only: weekends have no rows, so they are zero days,
    and the forecast of the coming weekend is (near) zero, not a weekday's cost."""
    rows = {d: 100.0 + (d % 3) for d in range(70) if d % 7 < 5}
    frame = pd.DataFrame(
        [("etl", START + timedelta(days=d), Decimal(str(v))) for d, v in rows.items()],
        columns=["unique_id", "day", "cost"],
    )
    forecast = forecast_daily(frame, until=START + timedelta(days=74))  # ends on a Friday
    by_day = dict(zip(forecast["day"], forecast["mean"], strict=True))
    weekdays = [v for d, v in by_day.items() if d.weekday() < 5]
    weekend = [v for d, v in by_day.items() if d.weekday() >= 5]
    assert len(weekend) == 2
    assert len(weekdays) == 5
    assert min(weekdays) > 90
    assert max(weekend) < 5


def test_short_flat_and_single_day_series() -> None:
    """Under two weeks no season is fitted; a handful of days gives their mean; a series
    with the same cost every day (or none at all) carries that cost with no spread."""
    rng = np.random.default_rng(3)
    series = {
        "ten-days": list(200 + rng.normal(0, 10, 10)),
        "three-days": [90.0, 110.0, 100.0],
        "one-day": [42.5],
        "zero": [0.0] * 60,
        "flat-fee": [12.25] * 40,
    }
    frame = history(series)
    until = START + timedelta(days=69)
    forecast = forecast_daily(frame, until=until)

    models = forecast.groupby("unique_id")["model"].first().to_dict()
    assert models == {
        "ten-days": "ETS",
        "three-days": "mean",
        "one-day": "constant",
        "zero": "constant",
        "flat-fee": "constant",
    }
    for uid, values in series.items():
        rows = forecast[forecast["unique_id"] == uid]
        first = START + timedelta(days=len(values))
        assert list(rows["day"]) == [
            first + timedelta(days=i) for i in range((until - first).days + 1)
        ]
    three = forecast[forecast["unique_id"] == "three-days"]
    assert three["mean"].to_numpy() == pytest.approx(100.0)
    assert (three["hi-95"] > three["hi-80"]).all()  # a spread from three days
    for uid, value in (("one-day", 42.5), ("zero", 0.0), ("flat-fee", 12.25)):
        rows = forecast[forecast["unique_id"] == uid]
        for column in ("mean", "lo-80", "hi-80", "lo-95", "hi-95"):
            assert rows[column].to_numpy() == pytest.approx(value)
    ten = forecast[forecast["unique_id"] == "ten-days"]
    assert 150 < ten["mean"].mean() < 250
    assert_ordered(forecast)


def test_falling_costs_are_clipped_at_zero() -> None:
    """A service being wound down: the trend heads below zero, the forecast stops at 0."""
    values = [max(0.0, 300 - 6 * d + (d % 7)) for d in range(45)]
    forecast = forecast_daily(history({"sunset": values}), until=START + timedelta(days=89))
    assert (forecast[["mean", "lo-80", "hi-80", "lo-95", "hi-95"]] >= 0).all().all()
    assert (forecast["mean"].tail(20) == 0).all()
    assert_ordered(forecast)


def test_through_continues_series_that_stopped() -> None:
    """A model retired on day 30 of a ledger that runs to day 59: with ``through`` its
    forecast starts after day 59 and, after a month of zeros, is near zero."""
    rng = np.random.default_rng(5)
    frame = history(
        {"retired": list(50 + rng.normal(0, 2, 30)), "live": list(80 + rng.normal(0, 2, 60))}
    )
    last = START + timedelta(days=59)
    forecast = forecast_daily(frame, until=last + timedelta(days=10), through=last)
    retired = forecast[forecast["unique_id"] == "retired"]
    assert retired["day"].min() == last + timedelta(days=1)
    assert len(retired) == 10
    assert retired["mean"].max() < 5
    # without it the forecast starts after the series' own last day
    plain = forecast_daily(frame, until=last + timedelta(days=10))
    assert plain[plain["unique_id"] == "retired"]["day"].min() == START + timedelta(days=30)


def test_ids_kept_as_given_and_totals() -> None:
    """``None`` (costs without a team) is a series of its own; totals add the days."""
    rng = np.random.default_rng(11)
    frame = history(
        {None: list(20 + rng.normal(0, 1, 30)), "risk": list(40 + rng.normal(0, 1, 30))}
    )
    until = START + timedelta(days=36)
    forecast = forecast_daily(frame, until=until, levels=[90])
    assert list(forecast.columns) == ["unique_id", "day", "mean", "lo-90", "hi-90", "model"]
    assert forecast["unique_id"].iloc[0] is None
    totals = forecast_totals(forecast)
    assert list(totals.columns) == ["unique_id", "days", "mean", "lo-90", "hi-90"]
    for uid in (None, "risk"):
        rows = forecast[forecast["unique_id"].map(lambda u, uid=uid: u == uid)]
        total = totals[totals["unique_id"].map(lambda u, uid=uid: u == uid)].iloc[0]
        assert total["days"] == 7
        assert total["mean"] == pytest.approx(rows["mean"].sum())
        assert total["hi-90"] == pytest.approx(rows["hi-90"].sum())


def test_nothing_to_forecast_and_bad_input() -> None:
    frame = history({"a": [1.0, 2.0, 3.0]})
    empty = forecast_daily(frame, until=START + timedelta(days=2))
    assert empty.empty
    assert list(empty.columns) == forecast_columns()

    with pytest.raises(UsageError, match="missing column cost"):
        forecast_daily(frame.drop(columns=["cost"]), until=date(2027, 1, 1))
    bad = frame.copy()
    bad.loc[1, "cost"] = "n/a"
    with pytest.raises(UsageError, match=r"series 'a', day 2026-01-06: cost 'n/a' is not a number"):
        forecast_daily(bad, until=date(2027, 1, 1))
    with pytest.raises(UsageError, match="levels"):
        forecast_daily(frame, until=date(2027, 1, 1), levels=[100])


# -- through a real ledger: FOCUS export → ingest → alignops cost forecast ----------------


def focus_export(path: Path, charges: list[dict[str, object]]) -> Path:
    """A FOCUS 1.0 CSV with the sample's columns: each charge is a day, a cost, tags and
    a service on a copy of the sample's first row (one day long)."""
    with FOCUS_SAMPLE.open(newline="") as handle:
        reader = csv.DictReader(handle)
        template = next(reader)
        columns = list(reader.fieldnames or [])
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for number, charge in enumerate(charges):
            day = charge["day"]
            assert isinstance(day, date)
            month = day.replace(day=1)
            cost = str(charge["cost"])
            row = dict(template)
            row.update(
                ChargePeriodStart=f"{day} 00:00:00",
                ChargePeriodEnd=f"{day + timedelta(days=1)} 00:00:00",
                BillingPeriodStart=f"{month} 00:00:00",
                BillingPeriodEnd=f"{(month + timedelta(days=32)).replace(day=1)} 00:00:00",
                BilledCost=cost,
                EffectiveCost=cost,
                ListCost=cost,
                ContractedCost=cost,
                BillingCurrency=str(charge.get("currency", "USD")),
                ServiceName=str(charge.get("service", "Amazon SageMaker")),
                ServiceCategory="AI and Machine Learning",
                Tags=json.dumps(charge["tags"]),
                Id=str(number),
            )
            writer.writerow(row)
    return path


def team_charges(first: date, last: date) -> list[dict[str, object]]:
    """Two teams' daily inference and training costs with a weekly cycle, and an
    untagged S3 bill: exact two-decimal amounts."""
    charges: list[dict[str, object]] = []
    day = first
    while day <= last:
        weekday = day.weekday() < 5
        n = (day - first).days
        charges += [
            {
                "day": day,
                "cost": Decimal(120 + n) / 4 if weekday else Decimal("12.50"),
                "tags": {"team": "risk", "model": "fraud-detection", "activity": "inference"},
            },
            {
                "day": day,
                "cost": Decimal("40.10") if weekday else Decimal("8.05"),
                "tags": {"team": "growth", "model": "churn", "activity": "training"},
            },
            {"day": day, "cost": Decimal("3.33"), "tags": {}, "service": "Amazon S3"},
        ]
        day += timedelta(days=1)
    return charges


def cli(*args: str) -> tuple[int, str, str]:
    app = typer.Typer()

    @app.callback()
    def cost() -> None:
        """The ``alignops cost`` group, as the CLI builds it."""

    register(app)
    result = CliRunner().invoke(app, list(args), catch_exceptions=False, color=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def team_ledger(tmp_path: Path) -> Path:
    """A ledger holding 2026-01-01 … 2026-03-10 of :func:`team_charges`, ingested."""
    export = focus_export(
        tmp_path / "export.csv", team_charges(date(2026, 1, 1), date(2026, 3, 10))
    )
    ledger = Ledger(tmp_path / "ledger.duckdb")
    ingest_paths(ledger, [export], governed_tags=FinopsSettings().governed_tags)
    return ledger.path


def test_cost_forecast_json_by_team(team_ledger: Path, tmp_path: Path) -> None:
    code, out, err = cli(
        "forecast",
        "--by",
        "team",
        "--today",
        "2026-03-12",
        "--ledger",
        str(team_ledger),
        "-C",
        str(tmp_path),
        "-o",
        "json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert (result["dataThrough"], result["until"], result["since"]) == (
        "2026-03-10",
        "2026-03-31",
        "2026-03-01",
    )
    series = {s["values"]["team"]: s for s in result["series"]}
    assert set(series) == {"risk", "growth", None}
    # spend to date: exactly the ledger's March rows (1 … 10 March)
    march = [
        c for c in team_charges(date(2026, 1, 1), date(2026, 3, 10)) if c["day"] >= date(2026, 3, 1)
    ]
    for team in ("risk", "growth"):
        spent = sum((c["cost"] for c in march if c["tags"].get("team") == team), Decimal(0))
        assert Decimal(series[team]["toDateExact"]) == spent
    assert Decimal(series[None]["toDateExact"]) == Decimal("33.30")
    for s in result["series"]:
        assert s["currency"] == "USD"
        assert [d["day"] for d in s["daily"]] == [f"2026-03-{d}" for d in range(11, 32)]
        forecast = {k: Decimal(v) for k, v in s["forecast"].items()}
        total = {k: Decimal(v) for k, v in s["total"].items()}
        assert (
            forecast["lo95"]
            <= forecast["lo80"]
            <= forecast["mean"]
            <= forecast["hi80"]
            <= forecast["hi95"]
        )
        assert abs(total["mean"] - forecast["mean"] - Decimal(s["toDate"])) <= Decimal("0.01")
        daily_sum = sum(Decimal(d["mean"]) for d in s["daily"])
        assert abs(daily_sum - forecast["mean"]) <= Decimal("0.01") * len(s["daily"])
    # the flat S3 bill is a constant; growth's weekdays cost 40.10 and weekends 8.05
    assert series[None]["model"] == "constant"
    assert Decimal(series[None]["forecast"]["mean"]) == Decimal("69.93")  # 21 days × 3.33
    growth = {d["day"]: Decimal(d["mean"]) for d in series["growth"]["daily"]}
    assert abs(growth["2026-03-16"] - Decimal("40.10")) < 1  # a Monday
    assert abs(growth["2026-03-14"] - Decimal("8.05")) < 1  # a Saturday
    assert series["risk"]["model"] == "MSTL"
    assert series["risk"]["historyDays"] == 69


def test_cost_forecast_in_a_config_repository(repo: Repo) -> None:
    """In a repository: its own ledger (the default place), own usage synced first."""
    export = focus_export(
        repo.path / "export.csv", team_charges(date(2026, 2, 1), date(2026, 3, 10))
    )
    ledger = Ledger.of_repository(repo.path, None)
    ingest_paths(ledger, [export], governed_tags=FinopsSettings().governed_tags)
    code, out, err = cli("forecast", "--today", "2026-03-11", "-C", str(repo.path), "-o", "json")
    assert code == 0, err
    result = json.loads(out)
    assert result["ledger"] == str(ledger.path)
    (series,) = result["series"]
    assert series["values"] == {} and series["historyDays"] == 38
    assert len(series["daily"]) == 21


def test_cost_forecast_table_and_errors(team_ledger: Path, tmp_path: Path) -> None:
    base = ("--ledger", str(team_ledger), "-C", str(tmp_path), "--today", "2026-03-12")
    code, out, err = cli("forecast", "--by", "model,activity", "--horizon", "2w", *base)
    assert code == 0, err
    assert "data through 2026-03-10 · forecast 2026-03-11 → 2026-03-26 (16 days)" in out
    assert "EffectiveCost in USD" in out
    assert "fraud-detection ·" in out and "churn · training" in out and "(untagged) ·" in out
    assert "model: MSTL for 2 series, constant for 1 series" in out

    code, out, err = cli("forecast", "--until", "2026-03-13", "--daily", *base)
    assert code == 0, err
    assert "all costs: MSTL, learned from 69 days" in out
    assert "2026-03-13 Fri" in out

    for args, message in (
        (("--by", "owner"), "--by: unknown dimension 'owner'"),
        (("--horizon", "soon"), "--horizon: expected days or weeks"),
        (("--until", "2026-03-05"), "the ledger has data through 2026-03-10"),
        (("--until", "2026-04-01", "--horizon", "3d"), "not both"),
        (("--horizon", "60w"), "at most 366 days past the ledger's data"),
    ):
        code, out, err = cli("forecast", *args, *base)
        assert code == 2
        assert message in err
    code, out, err = cli(
        "forecast", "-o", "json", "--ledger", str(tmp_path / "none.duckdb"), "-C", str(tmp_path)
    )
    assert code == 2
    assert "no cost ledger" in json.loads(out)["message"]


def test_one_off_spike_not_carried_forward_but_a_step_is() -> None:
    """A batch job that ran once, three days before the end, triples a day's cost: the
    forecast stays on the usual weekly level. A new model that doubled the cost for the
    last 10 days is a change: the forecast follows it."""
    rng = np.random.default_rng(9)
    t = np.arange(84)
    usual = 200 * WEEK[t % 7] * (1 + rng.normal(0, 0.04, len(t)))
    spiked = usual.copy()
    spiked[-3] *= 3
    stepped = usual.copy()
    stepped[-10:] *= 2
    until = START + timedelta(days=84 + 13)
    forecast = forecast_daily(history({"spike": list(spiked), "step": list(stepped)}), until=until)
    expected = 200 * WEEK[np.arange(84, 98) % 7]
    spike = forecast[forecast["unique_id"] == "spike"]["mean"].to_numpy()
    step = forecast[forecast["unique_id"] == "step"]["mean"].to_numpy()
    assert np.mean(np.abs(spike - expected) / expected) < 0.06
    assert np.mean(step / expected) > 1.6

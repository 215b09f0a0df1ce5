"""``alignops cost forecast``: where spend is heading, per team, model or any dimension.

Brings the ledger's own usage up to date (as every ledger report does), reads its daily
cost per value of ``--by`` and currency (up to a year, ending on the ledger's last day
of data), forecasts each series with statsforecast (MSTL with an ETS trend, decision
0040) through ``--until`` (default: the end of the month), and prints spend so far this
month, the forecast with its 80 % and 95 % intervals, and the two together.
docs/finops-forecast.md has examples.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from alignops.cli.context import DbOption, RepoOption, open_repository
from alignops.cli.output import Format, OutputOption, console, errors_reported, print_json
from alignops.cli.progress import progress_reporter
from alignops.errors import SourceError, UsageError

if TYPE_CHECKING:
    from alignops.finops.forecast import Band, LedgerForecast
    from alignops.finops.ledger import Ledger
    from alignops.manifests.config import FinopsSettings

__all__ = ["forecast_command", "parse_horizon", "register"]


class EngineChoice(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


def register(app: typer.Typer) -> None:
    """Add ``forecast`` to the ``alignops cost`` group (once)."""
    if any(c.name == "forecast" for c in app.registered_commands):
        return
    app.command("forecast")(forecast_command)


def forecast_command(
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="Dimensions, comma-separated: model, team, env, activity, cost_center. "
            "Default: one series (all costs).",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help="Forecast through this UTC day (YYYY-MM-DD). Default: the end of the month.",
            show_default=False,
        ),
    ] = None,
    horizon: Annotated[
        str | None,
        typer.Option(
            "--horizon",
            help="Forecast this many days (30d) or weeks (6w) past --today; instead of --until.",
            show_default=False,
        ),
    ] = None,
    today: Annotated[
        str | None,
        typer.Option(
            "--today",
            help="Forecast as of this UTC day (YYYY-MM-DD): its month, data up to it. "
            "Default: today.",
            show_default=False,
        ),
    ] = None,
    engine: Annotated[
        EngineChoice, typer.Option("--engine", help="Where the ledger queries run.")
    ] = EngineChoice.duckdb,
    ledger_file: Annotated[
        Path | None,
        typer.Option(
            "--ledger",
            help="Ledger file (DuckDB). Default: finops.ledger in alignops.yaml, else "
            ".alignops/ledger.duckdb in the repository.",
            show_default=False,
        ),
    ] = None,
    show_days: Annotated[
        bool, typer.Option("--daily", help="Also print each forecast day of each series.")
    ] = False,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Forecast daily cost per series (a value of --by, in one currency) through --until:
    spend so far this month, the forecast with 80 % and 95 % intervals, and the total."""
    from alignops.finops.engine import open_engine
    from alignops.finops.forecast import forecast_ledger

    fmt = output.value
    with errors_reported(fmt):
        day = _day(today, "--today") or datetime.now(UTC).date()
        dimensions = _dimensions(by)
        last = _until(day, until, horizon)
        with progress_reporter(quiet=fmt != "text") as progress:
            ledger, settings = _ledger(repo, ledger_file, db, progress)
            if engine == EngineChoice.spark:
                progress("starting Spark (10–20 s) with the ledger's charges")
            with open_engine(ledger, engine.value) as opened:
                result = forecast_ledger(
                    opened,
                    by=dimensions,
                    today=day,
                    until=last,
                    metric=settings.cost_metric,
                    progress=progress,
                )
    if output == Format.json:
        print_json({"ledger": str(ledger.path), "engine": engine.value, **result.to_dict()})
    else:
        _print(result, show_days)


def parse_horizon(text: str) -> int:
    """``30d``, ``6w`` or ``30`` as a number of days (at least 1)."""
    match = re.fullmatch(r"\s*(\d+)\s*([dw]?)\s*", text.lower())
    if not match or int(match.group(1)) < 1:
        raise UsageError(f"--horizon: expected days or weeks such as 30d or 6w, got {text!r}")
    return int(match.group(1)) * (7 if match.group(2) == "w" else 1)


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: expected a day as YYYY-MM-DD, got {text!r}") from None


def _until(today: date, until: str | None, horizon: str | None) -> date:
    if until is not None and horizon is not None:
        raise UsageError("give --until or --horizon, not both")
    if horizon is not None:
        return today + timedelta(days=parse_horizon(horizon))
    given = _day(until, "--until")
    if given is not None:
        return given
    return today.replace(day=monthrange(today.year, today.month)[1])


def _dimensions(text: str | None) -> list[str]:
    from alignops.finops.ledger import DIMENSIONS

    if text is None:
        return []
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in DIMENSIONS]
    if unknown or not names:
        raise UsageError(
            f"--by: unknown dimension {', '.join(map(repr, unknown)) or repr(text)}; "
            f"expected some of {', '.join(DIMENSIONS)}"
        )
    if len(set(names)) != len(names):
        raise UsageError(f"--by: a dimension is named twice in {text!r}")
    return names


def _ledger(
    repo: Path, given: Path | None, db: str | None, progress: Callable[[str], None]
) -> tuple[Ledger, FinopsSettings]:
    """The ledger and finops settings of the repository, its own usage brought up to
    date first (metered telemetry, evidence jobs), as every ledger report does; with
    ``--ledger`` outside a repository, the file as it is (default settings)."""
    from alignops.finops.ledger import Ledger
    from alignops.finops.own_usage import sync_own_usage
    from alignops.manifests import RepoConfig, load_config
    from alignops.manifests.config import CONFIG_FILE
    from alignops.metering import meter
    from alignops.store import Database, default_database_url

    try:
        repository = open_repository(repo)
    except SourceError:
        if given is None:
            raise
        return Ledger(given), RepoConfig().finops
    file = repository.root / CONFIG_FILE
    config = load_config(CONFIG_FILE, file.read_bytes()) if file.is_file() else RepoConfig()
    if given is not None:
        ledger = Ledger(given)
    else:
        ledger = Ledger.of_repository(repository.root, config.finops.ledger)
    if not ledger.path.is_file():
        raise UsageError(f"no cost ledger at {ledger.path}; run `alignops cost ingest` first")
    database = Database(db or default_database_url(repository.root))
    try:
        meter(
            repository,
            state_dir=repository.root / ".alignops",
            database=database,
            progress=progress,
        )
        progress("own usage → ledger")
        with ledger.connect() as con:
            sync_own_usage(con, database, config=config)
    finally:
        database.close()
    return ledger, config.finops


# -- printing ---------------------------------------------------------------------------


def _money(value: float | Decimal) -> str:
    amount = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return f"{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,.2f}"


def _interval(band: Band, level: int) -> str:
    lo, hi = (band.lo80, band.hi80) if level == 80 else (band.lo95, band.hi95)
    return f"{_money(lo)} – {_money(hi)}"


def _label(value: str | None) -> str:
    return "(untagged)" if value is None else value


def _series_label(
    result: LedgerForecast, values: tuple[str | None, ...], currency: str | None
) -> str:
    label = " · ".join(_label(v) for v in values) or "all costs"
    currencies = {s.currency for s in result.series}
    return label if len(currencies) == 1 else f"{label} ({currency or 'no currency'})"


def _print(result: LedgerForecast, show_days: bool) -> None:
    if result.data_through is None:
        console.print(f"no charges in the ledger up to {result.today}: nothing to forecast")
        return
    first = result.data_through + timedelta(days=1)
    currencies = sorted({s.currency or "no currency" for s in result.series})
    console.print(
        f"data through {result.data_through} · forecast {first} → {result.until} "
        f"({(result.until - first).days + 1} days) · {result.metric}"
        + (f" in {currencies[0]}" if len(currencies) == 1 else ""),
        soft_wrap=True,
    )
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column(" · ".join(result.by) or "series", overflow="fold")
    table.add_column(f"since {result.since:%m-%d}", justify="right", no_wrap=True)
    table.add_column("forecast", justify="right", no_wrap=True)
    table.add_column("95 % interval", justify="right", no_wrap=True)
    table.add_column(f"total by {result.until:%m-%d}", justify="right", no_wrap=True)
    for series in result.series:
        table.add_row(
            escape(_series_label(result, series.values, series.currency)),
            _money(series.to_date),
            _money(series.forecast.mean),
            _interval(series.forecast, 95),
            _money(series.total.mean),
        )
    console.print(table)
    models: dict[str, int] = {}
    for series in result.series:
        models[series.model] = models.get(series.model, 0) + 1
    console.print(
        "model: "
        + ", ".join(f"{name} for {n} series" for name, n in models.items())
        + " (docs/finops-forecast.md). The forecast's interval sums the daily bounds, "
        "never narrower than the exact one; the total adds the spend since "
        f"{result.since}. 80 % intervals: --daily or -o json.",
        style="dim",
        soft_wrap=True,
    )
    if not show_days:
        return
    for series in result.series:
        name = _series_label(result, series.values, series.currency)
        console.print(
            f"\n[bold]{escape(name)}[/]: {series.model}, learned from {series.history_days} days"
        )
        days = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        for column in ("day", "mean", "80 % interval", "95 % interval"):
            days.add_column(column, justify="left" if column == "day" else "right")
        for day, band in series.days:
            days.add_row(
                f"{day} {day:%a}", _money(band.mean), _interval(band, 80), _interval(band, 95)
            )
        console.print(days)

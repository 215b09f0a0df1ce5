"""``alignops cost``: what models cost.

``usage`` meters the runtime telemetry not counted yet, then prints requests,
GB-seconds and cost per deployment; ``export`` writes the cost records as a FOCUS CSV or
Parquet file (docs/metering.md). The ledger commands — ``ingest``, ``report``,
``budgets``, ``anomalies``, ``anomaly-feedback``, ``forecast`` — live in the
``cost_*`` modules and are registered at the end of this one (docs/finops.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from alignops.cli.context import DbOption, RepoOption, open_repository
from alignops.cli.output import Format, OutputOption, console, errors_reported, print_json, stderr
from alignops.cli.progress import progress_reporter
from alignops.errors import UsageError
from alignops.metering import (
    ExportFormat,
    MeterResult,
    UsageLine,
    export_records,
    load_records,
    meter,
    summarize,
    totals,
)
from alignops.store import Database, default_database_url

__all__ = ["cost_app"]

cost_app = typer.Typer(
    help="What models cost: metered usage, the FOCUS cost ledger, allocation, budgets, "
    "anomalies and forecasts.",
    no_args_is_help=True,
)


class By(StrEnum):
    deployment = "deployment"
    revision = "revision"
    hour = "hour"


class ExportFormatOption(StrEnum):
    csv = "csv"
    parquet = "parquet"


EnvOption = Annotated[
    str | None, typer.Option("--env", help="Only this environment. Default: all.")
]
SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Only hours starting at or after this date or time (UTC unless it says), "
        "e.g. 2026-11-01 or 2026-11-23T12:00.",
        show_default=False,
    ),
]


@contextmanager
def _metered(repo: Path, db: str | None, fmt: str) -> Iterator[tuple[Database, MeterResult]]:
    """Meter what is new (progress on stderr), then hand over the database."""
    repository = open_repository(repo)
    database = Database(db or default_database_url(repository.root))
    try:
        with progress_reporter(quiet=fmt != "text") as progress:
            result = meter(
                repository,
                state_dir=repository.root / ".alignops",
                database=database,
                progress=progress,
            )
        if fmt == "text":
            _print_metered(result)
        yield database, result
    finally:
        database.close()


@cost_app.command("usage")
def usage_command(
    environment: EnvOption = None,
    since: SinceOption = None,
    by: Annotated[
        By,
        typer.Option(
            "--by",
            help="One line per deployment, or per deployment and revision, or per "
            "deployment and hour.",
        ),
    ] = By.deployment,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Meter the runtime's telemetry not counted yet, then show requests, GB-seconds and
    cost per deployment (priced from the target's price list at the revision that ran)."""
    fmt = output.value
    with errors_reported(fmt):
        start = _since(since)
        with _metered(repo, db, fmt) as (database, result):
            records = load_records(database, environment=environment, since=start)
    lines = summarize(records, by.value)
    if output == Format.json:
        print_json(
            {
                "metered": result.to_dict(),
                "by": by.value,
                "lines": [line.to_dict() for line in lines],
                "totals": totals(lines).to_dict(),
            }
        )
    else:
        _print_usage(lines, by, environment)


@cost_app.command("export")
def export_command(
    path: Annotated[Path, typer.Argument(help="File to write (replaced if it exists).")],
    export_format: Annotated[
        ExportFormatOption | None,
        typer.Option(
            "--format",
            "-f",
            help="csv or parquet. Default: from the file's suffix.",
            show_default=False,
        ),
    ] = None,
    environment: EnvOption = None,
    since: SinceOption = None,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Meter what is new, then write the cost records as FOCUS rows (CSV or Parquet) for
    a cost ledger."""
    fmt = output.value
    with errors_reported(fmt):
        start = _since(since)
        chosen = _export_format(path, export_format)
        with _metered(repo, db, fmt) as (database, result):
            records = load_records(database, environment=environment, since=start)
        written = export_records(records, path, chosen)
    if output == Format.json:
        print_json(
            {"path": str(path), "format": chosen, "rows": written, "metered": result.to_dict()}
        )
    else:
        console.print(
            f"wrote {written:,} FOCUS cost record{_s(written)} to {path} ({chosen})",
            soft_wrap=True,
        )


def _export_format(path: Path, given: ExportFormatOption | None) -> ExportFormat:
    suffix = given.value if given is not None else path.suffix.lower().lstrip(".")
    if suffix == "csv":
        return "csv"
    if suffix == "parquet":
        return "parquet"
    raise UsageError(
        f"{path}: give --format csv or --format parquet (or name the file .csv or .parquet)"
    )


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--since: expected a date (2026-11-01) or a date and time (2026-11-23T12:00), "
            f"got {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# -- printing ---------------------------------------------------------------------------


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _money(value: Decimal) -> str:
    """Costs of local usage are fractions of a cent: shown to a millionth."""
    return f"{value:,.6f}"


def _print_metered(result: MeterResult) -> None:
    if result.segments:
        stderr.print(
            f"metered {result.segments:,} new telemetry segment{_s(result.segments)}: "
            f"{result.rows:,} requests ({result.requests:,} billed) → "
            f"{result.records:,} cost record{_s(result.records)}",
            soft_wrap=True,
        )
    for reason in result.unreadable:
        stderr.print(f"[yellow]not metered[/] {reason}", soft_wrap=True)


def _print_usage(lines: list[UsageLine], by: By, environment: str | None) -> None:
    if not lines:
        where = f" in environment {environment!r}" if environment else ""
        console.print(f"no metered usage{where}")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("deployment", overflow="ellipsis", no_wrap=True)
    table.add_column("environment", no_wrap=True)
    if by != By.deployment:
        table.add_column(by.value, no_wrap=True)
    for column in ("requests", "GB-seconds", "cost"):
        table.add_column(column, justify="right", no_wrap=True)
    notes: set[str] = set()
    for line in lines:
        cells = [line.resource.partition("/")[2], line.environment]
        if by == By.revision:
            cells.append((line.revision or "")[:12])
        elif by == By.hour:
            cells.append((line.hour or "").replace("T", " ")[:16])
        cost = f"{_money(line.cost)} {line.currency}" if line.priced else "not priced"
        cells += [
            f"{int(line.requests):,}",
            f"{line.gb_seconds:,.6f}",
            cost + (" *" if line.notes else ""),
        ]
        table.add_row(*cells)
        notes |= line.notes
    console.print(table)
    total = totals(lines)
    costs = " + ".join(f"{_money(a)} {c}" for c, a in total.cost.items()) or "not priced"
    requests = int(total.requests)
    console.print(
        f"total: {requests:,} request{_s(requests)} · {total.gb_seconds:,.6f} GB-seconds · {costs}",
        soft_wrap=True,
    )
    for note in sorted(notes):
        console.print(f"* not priced: {note}", soft_wrap=True)


def _register_ledger_commands() -> None:
    from alignops.cli import cost_anomalies, cost_budgets, cost_forecast, cost_ingest, cost_report

    for module in (cost_ingest, cost_report, cost_budgets, cost_anomalies, cost_forecast):
        module.register(cost_app)


_register_ledger_commands()

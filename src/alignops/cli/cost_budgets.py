"""``alignops cost budgets``: each Budget in its current period, thresholds fired, notices sent.

Reads the ``Budget`` and ``AlertRoute`` resources of the checked-out commit (``HEAD``:
budgets notify people, so they come from reviewed config, as the monitor's rules do),
evaluates them against the cost ledger (:func:`alignops.finops.budgets.evaluate_budgets`),
fires the thresholds reached for the first time in the period and sends their
notifications. docs/finops-budgets.md has examples.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from alignops.cli.context import DbOption, RepoOption, open_audit_log, open_repository
from alignops.cli.cost_ledger import refresh_own_usage
from alignops.cli.output import Format, OutputOption, console, errors_reported, print_json, stderr
from alignops.cli.progress import progress_reporter
from alignops.errors import UsageError

if TYPE_CHECKING:
    from alignops.finops.budgets import BudgetStatus
    from alignops.finops.engine import EngineName
    from alignops.finops.ledger import Ledger
    from alignops.notify import DispatchReport

__all__ = [
    "EngineChoice",
    "EngineOption",
    "LedgerOption",
    "TodayOption",
    "budgets_command",
    "existing_ledger",
    "parse_day",
    "register",
]


class EngineChoice(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


LedgerOption = Annotated[
    Path | None,
    typer.Option(
        "--ledger",
        help="The cost ledger (DuckDB file). Default: finops.ledger in alignops.yaml, else "
        ".alignops/ledger.duckdb in the repository.",
        show_default=False,
    ),
]
TodayOption = Annotated[
    str | None,
    typer.Option(
        "--today",
        help="Evaluate as of this UTC day (YYYY-MM-DD): its period, data up to it. Default: today.",
        show_default=False,
    ),
]
EngineOption = Annotated[
    EngineChoice, typer.Option("--engine", help="Where the ledger queries run.")
]


def register(app: typer.Typer) -> None:
    """Add ``budgets`` to the ``alignops cost`` group."""
    app.command("budgets")(budgets_command)


def budgets_command(
    today: TodayOption = None,
    ledger: LedgerOption = None,
    engine: EngineOption = EngineChoice.duckdb,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Evaluate every Budget in its current period: spend to date, forecast to the end of
    the period, thresholds reached. A threshold reached for the first time in the period
    fires once: recorded in the ledger, audited, and sent to the budget's routes."""
    fmt = output.value
    with errors_reported(fmt):
        day = parse_day(today, "--today") or datetime.now(UTC).date()
        statuses, report = evaluate_repository_budgets(
            repo, db, ledger, engine.value, day, quiet=fmt != "text"
        )
    if output == Format.json:
        print_json(
            {
                "today": day.isoformat(),
                "budgets": [s.to_dict() for s in statuses],
                "dispatch": report.to_dict(),
            }
        )
        return
    print_budgets(statuses)
    print_dispatch(report, [p for s in statuses for p in s.problems])


def parse_day(text: str | None, option: str) -> date | None:
    """A ``YYYY-MM-DD`` option value as a date; a :class:`UsageError` naming the option."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: expected a day as YYYY-MM-DD, got {text!r}") from None


def evaluate_repository_budgets(
    repo: Path,
    db: str | None,
    ledger_path: Path | None,
    engine: EngineName,
    day: date,
    *,
    quiet: bool,
) -> tuple[list[BudgetStatus], DispatchReport]:
    """Own usage brought up to date, every Budget of HEAD evaluated as of ``day`` (new
    thresholds fire), the notifications sent; ``budgets`` and ``ingest`` both run it."""
    from alignops.finops.budgets import budgets_of, evaluate_budgets
    from alignops.finops.engine import open_engine
    from alignops.manifests.kinds.alertroute import AlertRoute
    from alignops.notify import DispatchReport, Notifier

    repository = open_repository(repo)
    if not repository.head():
        raise UsageError(f"{repository.root} has no commits yet; commit the config first")
    snapshot = repository.snapshot("HEAD")
    budgets = budgets_of(snapshot)
    config = snapshot.config
    ledger = existing_ledger(repository.root, config.finops.ledger, ledger_path)
    if not budgets:
        return [], DispatchReport()
    routes = [r.model for r in snapshot.of_kind("AlertRoute") if isinstance(r.model, AlertRoute)]
    audit = open_audit_log(db, repository.root)
    try:
        notifier = Notifier(
            routes, config.notifications, database=audit.db, audit=audit, root=repository.root
        )
        with progress_reporter(quiet=quiet) as progress:
            refresh_own_usage(repository, config, ledger, db, progress)
            progress(f"evaluating {len(budgets)} budget{_s(len(budgets))} on {engine}")
            with open_engine(ledger, engine, read_only=False) as opened:
                statuses = evaluate_budgets(
                    opened,
                    budgets,
                    notifier=notifier,
                    audit=audit,
                    today=day,
                    metric=config.finops.cost_metric,
                )
            progress("sending notifications")
            report = notifier.dispatch()
    finally:
        audit.db.close()
    return statuses, report


def existing_ledger(root: Path, configured: str | None, given: Path | None) -> Ledger:
    """The ledger ``--ledger`` names, else the repository's; a :class:`UsageError` when
    the file is not there (reading must not create an empty ledger)."""
    from alignops.finops.ledger import Ledger

    ledger = Ledger(given) if given is not None else Ledger.of_repository(root, configured)
    if not ledger.path.is_file():
        raise UsageError(f"no cost ledger at {ledger.path}; run `alignops cost ingest` first")
    return ledger


# -- printing ---------------------------------------------------------------------------


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def print_budgets(statuses: list[BudgetStatus]) -> None:
    """The table (budget, period, amount, actual, % used, forecast, % forecast, thresholds
    fired), then a line per budget: scope, data freshness, forecast model and interval,
    spend in other currencies."""
    from alignops.finops.budgets_notice import cents, scope_text

    if not statuses:
        console.print("no Budget in the config repository")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("budget", overflow="fold", min_width=12)
    table.add_column("period", no_wrap=True)
    for column in ("amount", "actual", "used", "forecast", "fcst"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("fired", overflow="fold", min_width=8)
    for status in statuses:
        table.add_row(
            status.budget,
            status.period_label,
            cents(status.amount, status.currency),
            _number(status.actual),
            _percent(status.used_percent),
            _number(status.forecast),
            _percent(status.forecast_percent),
            _fired(status),
        )
    console.print(table)
    if any(s.fired for s in statuses):
        console.print("fired: thresholds in %, f = on forecast, * = fired by this run")
    for status in statuses:
        through = status.data_through.isoformat() if status.data_through else "none"
        notes = [scope_text(status.scope), f"data through {through}"]
        final = status.forecast_points[-1] if status.forecast_points else None
        if final is not None:
            notes.append(
                f"forecast {status.forecast_method}, 80 % interval "
                f"{_number(final.lo80)}–{_number(final.hi80)}"
            )
        notes += [
            f"not counted: {cents(v, k)} billed in {k}" for k, v in status.other_currencies.items()
        ]
        notes += [
            f"{t.basis} {t.percent:g} % fired {t.fired_at:%Y-%m-%d %H:%M} UTC"
            for t in status.fired
            if t.fired_at is not None and not t.fired_now
        ][-1:]
        console.print(f"{status.budget}: " + " · ".join(notes), soft_wrap=True)


def _number(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,.2f}"


def _percent(value: float) -> Text:
    style = "red" if value >= 100 else "yellow" if value >= 80 else ""
    return Text(f"{value:.0f} %", style=style)


def _fired(status: BudgetStatus) -> Text:
    text = Text()
    for threshold in status.fired:
        if text:
            text.append(" ")
        label = ("f" if threshold.basis == "forecast" else "") + f"{threshold.percent:g}"
        text.append(
            label + ("*" if threshold.fired_now else ""),
            style="bold" if threshold.fired_now else "",
        )
    return text or Text("—")


def print_dispatch(report: DispatchReport, problems: list[str]) -> None:
    """One line of what the notifications did; a line per delivery that did not go."""
    counts: dict[str, Any] = report.counts()
    if any(counts.values()):
        console.print(
            "notifications: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n),
            soft_wrap=True,
        )
    for delivery in (*report.retrying, *report.failed, *report.waiting):
        stderr.print(f"[yellow]notification {delivery.id}[/] {delivery.error}", soft_wrap=True)
    for problem in problems:
        stderr.print(f"[red]problem[/] {problem}", soft_wrap=True)

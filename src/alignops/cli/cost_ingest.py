"""``alignops cost ingest``: FOCUS billing exports into the cost ledger, with a report.

Each file (or every ``.csv``, ``.csv.gz`` and ``.parquet`` file under a folder) is read,
validated and added to the ledger in one transaction; files ingested before (same
bytes) are skipped. Exit codes: 0 ingested (the report may list problems: rows are
kept), 1 refused by ``--strict``, 2 unreadable input — after 1 or 2 nothing was written.
docs/finops-ingest.md has examples.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from alignops.cli.context import DbOption, RepoOption, open_repository
from alignops.cli.cost_budgets import (
    evaluate_repository_budgets,
    parse_day,
    print_budgets,
    print_dispatch,
)
from alignops.cli.output import (
    EXIT_DENY,
    Format,
    OutputOption,
    console,
    errors_reported,
    print_json,
    stderr,
)
from alignops.cli.progress import progress_reporter
from alignops.errors import InputError, SourceError

if TYPE_CHECKING:
    from alignops.finops.budgets import BudgetStatus
    from alignops.finops.ingest import IngestResult
    from alignops.finops.ledger import Ledger
    from alignops.manifests.config import FinopsSettings
    from alignops.notify import DispatchReport

__all__ = ["ingest_command", "register"]

_MAX_PROBLEMS = 40


def register(app: typer.Typer) -> None:
    """Add ``ingest`` to the ``cost`` command group (once)."""
    if any(c.name == "ingest" for c in app.registered_commands):
        return
    app.command("ingest")(ingest_command)


def ingest_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="FOCUS exports (CSV, CSV.gz, Parquet) or folders holding them.",
            show_default=False,
        ),
    ],
    ledger_file: Annotated[
        Path | None,
        typer.Option(
            "--ledger",
            help="Ledger file (DuckDB). Default: finops.ledger in alignops.yaml, else "
            ".alignops/ledger.duckdb in the repository.",
            show_default=False,
        ),
    ] = None,
    focus_version: Annotated[
        str | None,
        typer.Option(
            "--focus-version",
            help="Read the files as this FOCUS version (1.0, 1.1, 1.2, 1.3) instead of "
            "detecting it from their columns.",
            show_default=False,
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Refuse (exit 1, nothing written) files with error problems."
        ),
    ] = False,
    today: Annotated[
        str | None,
        typer.Option(
            "--today",
            help="The day budgets are evaluated as of after the ingest (YYYY-MM-DD). "
            "Default: today (UTC).",
            show_default=False,
        ),
    ] = None,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Add FOCUS 1.0–1.3 billing exports to the cost ledger, with a validation report per
    file (problems are counted and located; rows are never dropped). A file already
    ingested (same bytes) is skipped. Exit 0 ingested, 1 refused by --strict, 2 input
    that cannot be read; after 1 or 2 the ledger is unchanged. Then, in a config
    repository with commits, own usage is brought into the ledger and every Budget is
    evaluated (a threshold reached for the first time fires, once)."""
    from alignops.finops.ingest import IngestRefused, ingest_paths

    fmt = output.value
    budgets: tuple[list[BudgetStatus], DispatchReport] | None = None
    with errors_reported(fmt):
        day = parse_day(today, "--today") or datetime.now(UTC).date()
        ledger, settings = _ledger(repo, ledger_file)
        try:
            with progress_reporter(quiet=fmt != "text") as progress:
                results = ingest_paths(
                    ledger,
                    paths,
                    governed_tags=settings.governed_tags,
                    focus_version=focus_version,
                    strict=strict,
                    progress=progress,
                )
        except IngestRefused as refused:
            _print(list(refused.results), ledger, settings.cost_metric, fmt)
            if fmt == "text":
                console.print(f"[bold red]refused:[/] {escape(refused.message)}", soft_wrap=True)
            raise typer.Exit(EXIT_DENY) from None
        if _has_budgets(repo):
            budgets = evaluate_repository_budgets(
                repo, db, ledger.path, "duckdb", day, quiet=fmt != "text"
            )
    _print(results, ledger, settings.cost_metric, fmt, budgets)


def _has_budgets(repo: Path) -> bool:
    """Whether HEAD of the config repository declares a Budget (then the ingest evaluates
    them); a HEAD whose manifests do not load is reported and skipped, not fatal."""
    try:
        repository = open_repository(repo)
        return bool(repository.head() and repository.snapshot("HEAD").of_kind("Budget"))
    except SourceError:
        return False
    except InputError as exc:
        stderr.print(f"[yellow]budgets not evaluated:[/] {escape(str(exc))}", soft_wrap=True)
        return False


def _ledger(repo: Path, given: Path | None) -> tuple[Ledger, FinopsSettings]:
    """The ledger and finops settings of the repository; with ``--ledger``, outside a
    repository too (default settings)."""
    from alignops.finops.ledger import Ledger
    from alignops.manifests import RepoConfig, load_config
    from alignops.manifests.config import CONFIG_FILE

    try:
        root = open_repository(repo).root
    except SourceError:
        if given is None:
            raise
        return Ledger(given), RepoConfig().finops
    file = root / CONFIG_FILE
    config = load_config(CONFIG_FILE, file.read_bytes()) if file.is_file() else RepoConfig()
    settings = config.finops
    if given is not None:
        return Ledger(given), settings
    return Ledger.of_repository(root, settings.ledger), settings


# -- printing ---------------------------------------------------------------------------


def _print(
    results: list[IngestResult],
    ledger: Ledger,
    metric: str,
    fmt: str,
    budgets: tuple[list[BudgetStatus], DispatchReport] | None = None,
) -> None:
    if fmt == "json":
        body: dict[str, object] = {
            "ledger": str(ledger.path),
            "files": [r.to_dict() for r in results],
        }
        if budgets is not None:
            body["budgets"] = [s.to_dict() for s in budgets[0]]
            body["dispatch"] = budgets[1].to_dict()
        print_json(body)
        return
    for result in results:
        _print_result(result, metric)
    if budgets is not None and budgets[0]:
        print_budgets(budgets[0])
        print_dispatch(budgets[1], [p for s in budgets[0] for p in s.problems])
    ingested = [r for r in results if r.status == "ingested"]
    if len(results) > 1 or not ingested:
        rows = sum(r.rows for r in ingested)
        console.print(
            f"{len(ingested)} of {len(results)} file{_s(len(results))} ingested "
            f"({rows:,} row{_s(rows)}) into {escape(str(ledger.path))}",
            soft_wrap=True,
        )


def _print_result(result: IngestResult, metric: str) -> None:
    report = result.report
    name = escape(str(result.path))
    if result.status == "skipped":
        when = f"{result.ingested_at:%Y-%m-%d %H:%M} UTC" if result.ingested_at else "before"
        console.print(
            f"[dim]skipped[/] {name}: already ingested on {when}, {result.rows:,} "
            f"row{_s(result.rows)} (ingest {result.ingest_id})",
            soft_wrap=True,
        )
        return
    errors, warnings = len(report.errors), len(report.warnings)
    verdict = "[bold red]refused[/]" if result.status == "refused" else "[green]ingested[/]"
    version = f"FOCUS {report.focus_version}"
    if report.focus_version != report.detected_version:
        version += f" (forced; the columns look like {report.detected_version})"
    console.print(
        f"{verdict} {name}: {version}, {report.rows:,} row{_s(report.rows)}"
        + (f" (ingest {result.ingest_id})" if result.ingest_id is not None else ""),
        soft_wrap=True,
    )
    if result.totals:
        costs = " + ".join(
            f"{_money(sums.get(metric, Decimal(0)))} {currency or '(no currency)'}"
            for currency, sums in result.totals.items()
        )
        console.print(f"  {metric}: {costs}", soft_wrap=True)
    missing = {k: v for k, v in report.rows_without_cost.items() if v}
    if missing:
        parts = ", ".join(f"{k} {v:,}" for k, v in missing.items())
        console.print(f"  [yellow]rows kept without a cost:[/] {parts}", soft_wrap=True)
    bad = report.rows_with_errors
    in_rows = f"; {bad:,} row{_s(bad)} with errors (kept)" if bad else ""
    console.print(
        f"  problems: {errors} error{_s(errors)}, {warnings} warning{_s(warnings)}{in_rows}",
        soft_wrap=True,
    )
    if report.problems:
        _print_problems(result)


def _print_problems(result: IngestResult) -> None:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("level", no_wrap=True, min_width=5)
    table.add_column("rule", no_wrap=True, min_width=18)
    table.add_column("column", no_wrap=True, min_width=20)
    table.add_column("rows", justify="right", no_wrap=True, min_width=5)
    table.add_column("lines", no_wrap=True)
    table.add_column("e.g.", overflow="ellipsis", no_wrap=True)
    problems = sorted(result.report.problems, key=lambda p: (p.severity != "error", p.rule))
    for problem in problems[:_MAX_PROBLEMS]:
        style = "red" if problem.severity == "error" else "yellow"
        lines = ",".join(str(n) for n in problem.lines[:3])
        if problem.count > min(len(problem.lines), 3) and problem.lines:
            lines += ",…"
        table.add_row(
            f"[{style}]{'error' if problem.severity == 'error' else 'warn'}[/]",
            problem.rule,
            escape(problem.column or ""),
            f"{problem.count:,}",
            lines,
            escape(repr(problem.examples[0]) if problem.examples else ""),
        )
    console.print(table)
    hidden = len(problems) - _MAX_PROBLEMS
    if hidden > 0:
        console.print(f"  … and {hidden} more (all of them with -o json)")


def _money(value: Decimal) -> str:
    """Totals to the cent (the ledger and -o json keep them exact)."""
    return f"{value:,.2f}"


def _s(n: int) -> str:
    return "" if n == 1 else "s"

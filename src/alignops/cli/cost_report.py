"""``alignops cost report``: cost per model, team, environment and activity, per window,
after the allocation rules of alignops.yaml, to the cent.

Before reporting it meters the runtime's new telemetry and brings the ledger's own rows
(serving, evidence jobs) up to date, so own usage is current in every report. Rules and
budgets come from the working tree's alignops.yaml and manifests (try a rule before
committing it). docs/finops-allocation.md has examples.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table

from alignops.cli.context import DbOption, RepoOption, open_repository
from alignops.cli.cost_budgets import EngineChoice, EngineOption, LedgerOption, parse_day
from alignops.cli.cost_ledger import ledger_of, refresh_own_usage
from alignops.cli.output import Format, OutputOption, console, errors_reported, print_json, stderr
from alignops.cli.progress import progress_reporter
from alignops.errors import UsageError

if TYPE_CHECKING:  # the ledger's machinery (DuckDB, Ibis, pandas) loads only when it runs
    from alignops.finops.allocation import AllocationLine, AllocationReport
    from alignops.finops.allocation_responsible_ai import ModelActivities
    from alignops.finops.own_usage import OwnUsageResult
    from alignops.manifests.config import AllocationRule
    from alignops.metering import MeterResult

__all__ = ["register", "report_command"]


class WindowChoice(StrEnum):
    day = "day"
    week = "week"
    month = "month"
    total = "total"


class MetricChoice(StrEnum):
    EffectiveCost = "EffectiveCost"
    BilledCost = "BilledCost"
    ListCost = "ListCost"


class ViewChoice(StrEnum):
    allocation = "allocation"
    responsible_ai = "responsible-ai"


_RAI_BY = ("model", "activity")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the ``alignops cost`` group."""
    app.command("report")(report_command)


def report_command(
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="Dimensions, comma-separated: model, team, env, activity, cost_center. "
            "Default: model.",
            show_default=False,
        ),
    ] = None,
    window: Annotated[
        WindowChoice,
        typer.Option("--window", help="One line per day, week (from Monday), month, or total."),
    ] = WindowChoice.month,
    start: Annotated[
        str | None,
        typer.Option(
            "--from", help="First UTC day counted (YYYY-MM-DD). Default: the first charge."
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="UTC day the report stops before (YYYY-MM-DD, not counted; as FOCUS "
            "periods end). Default: after the last charge.",
        ),
    ] = None,
    view: Annotated[
        ViewChoice,
        typer.Option(
            "--view",
            help="allocation: cost per --by values; responsible-ai: per model, the cost of "
            "explainability, fairness audits, drift monitoring and performance evaluation "
            "and their share of the model's total.",
        ),
    ] = ViewChoice.allocation,
    engine: EngineOption = EngineChoice.duckdb,
    metric: Annotated[
        MetricChoice | None,
        typer.Option(
            "--metric", help="FOCUS cost column. Default: finops.costMetric (EffectiveCost)."
        ),
    ] = None,
    ledger: LedgerOption = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write a page with charts: cost over time per model and activity, "
            "budget burn-down with forecast, anomalies.",
            show_default=False,
        ),
    ] = None,
    today: Annotated[
        str | None,
        typer.Option(
            "--today",
            help="The day the page's budget burn-down and anomalies are as of (YYYY-MM-DD). "
            "Default: today (UTC).",
            show_default=False,
        ),
    ] = None,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Cost per window and per value of the --by dimensions, untagged and shared costs
    split by the rules of finops.allocation; allocated + unallocated = total, to the cent,
    in every window. Own usage (serving, evidence jobs) is synced into the ledger first."""
    fmt = output.value
    with errors_reported(fmt):
        dimensions = _dimensions(by, view)
        first, stop = parse_day(start, "--from"), parse_day(end, "--to")
        if first is not None and stop is not None and stop <= first:
            raise UsageError(f"--to {stop} is not after --from {first}")
        result = _report(
            repo,
            db,
            ledger,
            engine.value,
            dimensions,
            window.value,
            first,
            stop,
            metric.value if metric else None,
            html,
            parse_day(today, "--today"),
            quiet=fmt != "text",
        )
    report, own, metered, ledger_path = result
    rai = None
    if view == ViewChoice.responsible_ai:
        from alignops.finops.allocation_responsible_ai import responsible_ai_view

        rai = responsible_ai_view(report)
    if output == Format.json:
        body: dict[str, Any] = {
            "view": view.value,
            "engine": engine.value,
            "ledger": str(ledger_path),
            **report.to_dict(),
            "ownUsage": own.to_dict(),
            "metered": metered.to_dict(),
            "html": str(html) if html else None,
        }
        if rai is not None:
            body["responsibleAi"] = [m.to_dict(report.window_end(m.window)) for m in rai]
        print_json(body)
        return
    _print_sync(own, metered)
    if rai is not None:
        _print_responsible_ai(report, rai)
    else:
        _print_report(report)
    if html:
        console.print(f"wrote {html}")


def _dimensions(given: str | None, view: ViewChoice) -> tuple[str, ...]:
    if view == ViewChoice.responsible_ai:
        if given is not None and tuple(_split(given)) != _RAI_BY:
            raise UsageError("--view responsible-ai reports by model and activity; leave out --by")
        return _RAI_BY
    if given is None:
        return ("model",)
    from alignops.finops.ledger import DIMENSIONS

    dimensions = tuple(_split(given))
    if not dimensions:
        raise UsageError("--by: name at least one dimension, e.g. --by model,team")
    for dimension in dimensions:
        if dimension not in DIMENSIONS:
            known = ", ".join(DIMENSIONS)
            raise UsageError(f"--by: unknown dimension {dimension!r}; expected one of {known}")
    if len(set(dimensions)) != len(dimensions):
        raise UsageError(f"--by names a dimension twice: {given}")
    return dimensions


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _report(
    repo: Path,
    db: str | None,
    ledger_path: Path | None,
    engine_name: str,
    by: tuple[str, ...],
    window: str,
    start: date | None,
    end: date | None,
    metric: str | None,
    html: Path | None,
    today: date | None,
    *,
    quiet: bool,
) -> tuple[AllocationReport, OwnUsageResult, MeterResult, Path]:
    from alignops.finops.allocation import allocate
    from alignops.finops.allocation_rules import check_rules
    from alignops.finops.engine import open_engine
    from alignops.manifests.config import CONFIG_FILE
    from alignops.manifests.documents import parse_documents
    from alignops.manifests.kinds.budget import Budget

    repository = open_repository(repo)
    snapshot = repository.snapshot(None)
    config = snapshot.config
    rules = config.finops.allocation
    check_rules(rules, document=parse_documents(CONFIG_FILE, snapshot.read(CONFIG_FILE))[0])
    ledger = ledger_of(repository.root, config, ledger_path)
    with progress_reporter(quiet=quiet) as progress:
        metered, own = refresh_own_usage(repository, config, ledger, db, progress)
        if engine_name == "spark":
            progress("starting Spark (10–20 s) with the ledger's charges")
        with open_engine(ledger, engine_name) as engine:  # type: ignore[arg-type]
            progress(f"allocating by {', '.join(by)} per {window} on {engine_name}")
            report = allocate(
                engine,
                by=by,
                window=window,  # type: ignore[arg-type]
                start=start,
                end=end,
                rules=rules,
                metric=metric or config.finops.cost_metric,
            )
            if html is not None:
                progress(f"writing {html}")
                from alignops.finops.html import write_html_report

                budgets = [r.model for r in snapshot.of_kind("Budget")]
                write_html_report(
                    html,
                    engine=engine,
                    settings=config.finops,
                    budgets=[b for b in budgets if isinstance(b, Budget)],
                    start=start,
                    end=end,
                    today=today,
                )
    return report, own, metered, ledger.path


# -- printing ---------------------------------------------------------------------------


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _print_sync(own: OwnUsageResult, metered: MeterResult) -> None:
    if metered.segments:
        stderr.print(
            f"metered {metered.segments:,} new telemetry segment{_s(metered.segments)} → "
            f"{metered.records:,} cost record{_s(metered.records)}",
            soft_wrap=True,
        )
    rows = own.runtime_rows + own.evidence_rows
    if own.changed and (rows or own.replaced):
        stderr.print(
            f"own usage in the ledger: {own.runtime_rows:,} serving and "
            f"{own.evidence_rows:,} evidence row{_s(own.evidence_rows)}"
            + (f" (replacing {own.replaced:,})" if own.replaced else ""),
            soft_wrap=True,
        )
    elif rows:
        stderr.print(f"own usage in the ledger is current ({rows:,} row{_s(rows)})")
    for note in own.notes:
        stderr.print(f"[yellow]note[/] evidence jobs priced at zero: {note}", soft_wrap=True)


def _money(amount: Any, currency: str | None) -> str:
    return f"{amount:,.2f} {currency or ''}".rstrip()


def _percent(share: Any) -> str:
    return "" if share is None else f"{share * 100:.1f} %"


def _window_label(report: AllocationReport, start: date | None) -> str:
    if report.window == "total":
        first = report.start.isoformat() if report.start else "first charge"
        last = report.end.isoformat() if report.end else "last charge"
        return f"{first} … {last}" if report.start or report.end else "all"
    if start is None:
        return "(no period)"
    return start.strftime("%Y-%m") if report.window == "month" else start.isoformat()


def _rules_text(rules: tuple[AllocationRule, ...]) -> list[str]:
    lines = []
    for rule in rules:
        parts = []
        if rule.shared_values:
            parts.append(f"shared ({', '.join(rule.shared_values)}) split {rule.shared}")
        if rule.untagged != "unallocated":
            parts.append(f"untagged split {rule.untagged}")
        if "fixed" in (rule.shared, rule.untagged):
            split = ", ".join(f"{k} {v.normalize():f} %" for k, v in rule.split.items())
            parts.append(f"fixed: {split}")
        if parts:
            lines.append(f"{rule.dimension}: " + "; ".join(parts))
    return lines


def _print_report(report: AllocationReport) -> None:
    if not report.lines:
        console.print("no charges in the ledger" + _range_text(report))
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("week of" if report.window == "week" else "window", no_wrap=True)
    for dimension in report.by:
        table.add_column(dimension, overflow="fold")
    table.add_column("cost", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    blank = [""] * len(report.by)
    hidden = 0
    grouped: dict[tuple[date | None, str | None], list[AllocationLine]] = {}
    for line in report.lines:
        grouped.setdefault((line.window, line.currency), []).append(line)
    for total in report.totals:
        lines = grouped.get((total.window, total.currency), [])
        label = _window_label(report, total.window)
        shown = [line for line in lines if line.amount]
        hidden += len(lines) - len(shown)
        for i, line in enumerate(shown):
            table.add_row(
                label if i == 0 else "",
                *_cells(line),
                _money(line.cents, line.currency),
                _percent(report.share(line)),
                style=None if line.allocated else "dim",
            )
        share = None if total.total == 0 else total.unallocated / total.total
        unallocated = _money(total.unallocated_cents, total.currency)
        first = "" if shown else label
        table.add_row(first, "unallocated", *blank[1:], unallocated, _percent(share), style="dim")
        total_text = _money(total.total_cents, total.currency)
        table.add_row("", "total", *blank[1:], total_text, "", style="bold", end_section=True)
    console.print(table)
    if hidden:
        console.print(
            f"{hidden:,} line{_s(hidden)} of zero cost not shown (-o json has them)", style="dim"
        )
    if any(not line.allocated and line.amount for line in report.lines):
        console.print(
            "— : no value (untagged, or a split that found nothing to go to); such lines are "
            "unallocated",
            style="dim",
            soft_wrap=True,
        )
    for text in _rules_text(report.rules):
        console.print(f"rule {text}", soft_wrap=True)


def _cells(line: AllocationLine) -> list[str]:
    return ["—" if v is None else v for v in line.values]


def _range_text(report: AllocationReport) -> str:
    if report.start and report.end:
        return f" from {report.start} to {report.end}"
    if report.start:
        return f" from {report.start}"
    if report.end:
        return f" before {report.end}"
    return ""


def _print_responsible_ai(report: AllocationReport, view: list[ModelActivities]) -> None:
    if not view:
        console.print("no cost allocated to a model" + _range_text(report))
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("week of" if report.window == "week" else "window", no_wrap=True)
    table.add_column("model", overflow="fold")
    table.add_column("activity", no_wrap=True)
    table.add_column("cost", justify="right", no_wrap=True)
    table.add_column("of the model", justify="right", no_wrap=True)
    previous: tuple[date | None, str | None] | None = None
    for model in view:
        key = (model.window, model.currency)
        label = _window_label(report, model.window) if key != previous else ""
        previous = key
        first = True
        for cost in [a for a in model.activities if a.amount]:
            table.add_row(
                label if first else "",
                model.model if first else "",
                cost.activity,
                _money(cost.cents, model.currency),
                _percent(cost.share),
            )
            first = False
        every = model.responsible_ai
        table.add_row(
            label if first else "",
            model.model if first else "",
            "responsible AI",
            _money(every.cents, model.currency),
            _percent(every.share),
            style="bold",
        )
        table.add_row(
            "", "", "model total", _money(model.total_cents, model.currency), "", end_section=True
        )
    console.print(table)
    console.print(
        "of the model: share of the model's total in the window (serving, cloud charges and "
        "evidence jobs alike); activities that cost nothing are not shown",
        style="dim",
        soft_wrap=True,
    )

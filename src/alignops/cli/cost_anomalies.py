"""``alignops cost anomalies`` and ``alignops cost anomaly-feedback``.

``anomalies`` scores the daily cost of every value of the chosen dimensions and lists
the anomalies with their impact and root cause (suppressed ones with ``--all``);
``anomaly-feedback`` records yes / no / planned on one of them — ``no`` and ``planned``
suppress it and its repeats. docs/finops-anomalies.md has examples.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from alignops.cli.context import DbOption, RepoOption, open_audit_log, open_repository
from alignops.cli.cost_budgets import (
    EngineChoice,
    EngineOption,
    LedgerOption,
    TodayOption,
    existing_ledger,
    parse_day,
)
from alignops.cli.output import Format, OutputOption, console, errors_reported, print_json
from alignops.cli.progress import progress_reporter
from alignops.errors import UsageError

if TYPE_CHECKING:
    from alignops.finops.cost_anomalies import CostAnomaly
    from alignops.finops.ledger import Ledger
    from alignops.manifests.config import FinopsSettings

__all__ = ["anomalies_command", "feedback_command", "register"]


class VerdictChoice(StrEnum):
    yes = "yes"
    no = "no"
    planned = "planned"


ThresholdOption = Annotated[
    float,
    typer.Option(
        "--threshold",
        help="Robust score from which a day is flagged (decisions 0031, 0039).",
        min=0.1,
    ),
]
MinChangeOption = Annotated[
    float,
    typer.Option(
        "--min-change",
        help="Least rise over the baseline, in the billing currency, for a day to be flagged.",
        min=0.0,
    ),
]


def register(app: typer.Typer) -> None:
    """Add ``anomalies`` and ``anomaly-feedback`` to the ``alignops cost`` group."""
    app.command("anomalies")(anomalies_command)
    app.command("anomaly-feedback")(feedback_command)


def anomalies_command(
    dimension: Annotated[
        list[str] | None,
        typer.Option(
            "--dimension",
            "-d",
            help="Score the values of this dimension (repeat for more): model, team, env, "
            "activity, cost_center, service, account, region. Default: model, team, env, "
            "activity.",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="List anomalies flagged on or after this day (YYYY-MM-DD). Default: 30 days "
            "before --today.",
            show_default=False,
        ),
    ] = None,
    today: TodayOption = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list anomalies suppressed by feedback.")
    ] = False,
    threshold: ThresholdOption = 4.5,
    min_change: MinChangeOption = 1.0,
    ledger: LedgerOption = None,
    engine: EngineOption = EngineChoice.duckdb,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
) -> None:
    """List cost anomalies: days when a value's cost rose far above its usual level for
    that weekday, with the money involved and the services, accounts, regions and tags
    that caused it."""
    from alignops.finops.cost_anomalies import DEFAULT_DIMENSIONS, detect_cost_anomalies
    from alignops.finops.engine import open_engine

    fmt = output.value
    with errors_reported(fmt):
        day = parse_day(today, "--today") or datetime.now(UTC).date()
        start = parse_day(since, "--since") or day - timedelta(days=29)
        dimensions = tuple(dimension or DEFAULT_DIMENSIONS)
        found_ledger, settings, _ = _ledger(repo, ledger)
        with progress_reporter(quiet=fmt != "text") as progress:
            progress(f"scoring daily cost per {', '.join(dimensions)} on {engine.value}")
            with open_engine(found_ledger, engine.value) as opened:
                found = detect_cost_anomalies(
                    opened,
                    dimensions=dimensions,
                    start=start,
                    today=day,
                    metric=settings.cost_metric,
                    threshold=threshold,
                    min_change=min_change,
                )
    shown = [a for a in found if show_all or not a.suppressed]
    hidden = len(found) - len(shown)
    if output == Format.json:
        print_json(
            {
                "since": start.isoformat(),
                "today": day.isoformat(),
                "dimensions": list(dimensions),
                "anomalies": [a.to_dict() for a in shown],
                "suppressed": sum(a.suppressed for a in found),
            }
        )
        return
    print_anomalies(shown, start, hidden)


def feedback_command(
    dimension: Annotated[str, typer.Argument(help="The anomaly's dimension, e.g. team.")],
    value: Annotated[
        str, typer.Argument(help="The dimension's value, e.g. risk; (untagged) for none.")
    ],
    day: Annotated[str, typer.Argument(help="A flagged day of the anomaly (YYYY-MM-DD).")],
    verdict: Annotated[
        VerdictChoice,
        typer.Argument(
            help="yes: a real anomaly; no: not one; planned: expected. no and planned "
            "suppress it and its repeats."
        ),
    ],
    note: Annotated[str | None, typer.Option("--note", help="Why (kept with it).")] = None,
    today: TodayOption = None,
    threshold: ThresholdOption = 4.5,
    min_change: MinChangeOption = 1.0,
    ledger: LedgerOption = None,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Record yes / no / planned on a cost anomaly (as `alignops cost anomalies` lists it).
    A later verdict on the same anomaly replaces the earlier one; each is audited."""
    from alignops.finops.cost_anomalies import (
        REPEAT_DAYS,
        detect_cost_anomalies,
        record_feedback,
    )
    from alignops.finops.engine import open_engine

    fmt = output.value
    with errors_reported(fmt):
        flagged = parse_day(day, "DAY")
        assert flagged is not None
        now = parse_day(today, "--today") or datetime.now(UTC).date()
        found_ledger, settings, root = _ledger(repo, ledger)
        with open_engine(found_ledger, read_only=False) as opened:
            candidates = detect_cost_anomalies(
                opened,
                dimensions=[dimension],
                start=flagged,
                today=max(now, flagged),
                metric=settings.cost_metric,
                threshold=threshold,
                min_change=min_change,
            )
            anomaly = next(
                (a for a in candidates if a.value == value and a.day <= flagged <= a.last_day),
                None,
            )
            if anomaly is None:
                raise UsageError(
                    f"no cost anomaly of {dimension}={value} on {flagged}; "
                    "`alignops cost anomalies` lists them"
                )
            audit = open_audit_log(db, root)
            try:
                given = record_feedback(
                    opened,
                    dimension=dimension,
                    value=value,
                    day=anomaly.day,
                    verdict=verdict.value,
                    note=note,
                    audit=audit,
                )
            finally:
                audit.db.close()
    until = anomaly.last_day + timedelta(days=REPEAT_DAYS)
    suppresses = given.verdict != "yes"
    if output == Format.json:
        print_json(
            {
                "feedback": given.to_dict(),
                "anomaly": anomaly.to_dict(),
                "suppressesRepeatsUntil": until.isoformat() if suppresses else None,
            }
        )
        return
    line = (
        f"{given.verdict} recorded for the {dimension}={value} anomaly of "
        f"{anomaly.day.isoformat()} ({_money(anomaly.impact, signed=True)} {anomaly.currency})"
    )
    if suppresses:
        line += f"; it and its repeats up to {until.isoformat()} are suppressed"
    console.print(line, soft_wrap=True)


def _ledger(repo: Path, given: Path | None) -> tuple[Ledger, FinopsSettings, Path]:
    """The ledger, the finops settings of the checked-out config (the working tree before
    the first commit) and the repository's folder."""
    repository = open_repository(repo)
    snapshot = repository.snapshot("HEAD" if repository.head() else None)
    settings = snapshot.config.finops
    return existing_ledger(repository.root, settings.ledger, given), settings, repository.root


# -- printing ---------------------------------------------------------------------------


def _money(value: Decimal, *, signed: bool = False) -> str:
    rounded = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return f"{rounded:+,.2f}" if signed else f"{rounded:,.2f}"


def print_anomalies(anomalies: list[CostAnomaly], since: date, hidden: int) -> None:
    """A table of anomalies, newest first, then a line each: actual against expected and
    the root cause."""
    if not anomalies:
        console.print(f"no cost anomaly since {since.isoformat()}")
    else:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        table.add_column("day", no_wrap=True)
        table.add_column("days", justify="right", no_wrap=True)
        table.add_column("series", overflow="fold", min_width=12)
        for column in ("impact", "%", "score"):
            table.add_column(column, justify="right", no_wrap=True)
        table.add_column("feedback", no_wrap=True)
        ordered = sorted(anomalies, key=lambda a: (a.day, a.impact), reverse=True)
        for a in ordered:
            percent = "new" if a.impact_percent is None else f"{a.impact_percent:+.0f} %"
            table.add_row(
                a.day.isoformat(),
                str(len(a.days)),
                f"{a.dimension}={a.value}",
                Text(f"{_money(a.impact, signed=True)} {a.currency}", style="red"),
                percent,
                f"{a.score:.1f}",
                _feedback(a),
            )
        console.print(table)
        for a in ordered:
            causes = ", ".join(
                f"{c.dimension}={c.key or '(none)'} {(c.share or 0.0):.0%}"
                for c in a.root_causes[:3]
            )
            console.print(
                f"{a.day.isoformat()} {a.dimension}={a.value}: {_money(a.actual)} "
                f"{a.currency} against {_money(a.expected)} expected; "
                f"{causes or 'no rows to explain it'}",
                soft_wrap=True,
            )
    if hidden:
        console.print(f"{hidden} suppressed by feedback (--all lists them)")


def _feedback(anomaly: CostAnomaly) -> str:
    if anomaly.feedback is not None:
        return anomaly.feedback.verdict
    if anomaly.suppressed_by is not None:
        return f"repeat ({anomaly.suppressed_by.verdict})"
    return "—"

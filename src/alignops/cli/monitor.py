"""``alignops monitor``: watch deployed models against their policies and alert rules.

``status`` adds the telemetry written since the last look into the windows, then shows
per deployment its latest windows (requests, latency, errors, cold starts, drift,
fairness, cost rate), its rules and its firing alerts; ``run`` runs the monitor's tick —
once with ``--once`` (the demo and tests), else every ``--interval`` seconds until
SIGTERM or Ctrl-C. ``alignops server`` runs the same tick after each controller tick.
docs/monitoring.md has examples.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from alignops.cli.context import (
    DbOption,
    RepoOption,
    evidence_store,
    open_audit_log,
    open_repository,
)
from alignops.cli.monitor_output import print_status, print_tick
from alignops.cli.output import (
    EXIT_DENY,
    EXIT_OK,
    Format,
    OutputOption,
    errors_reported,
    print_json,
    stderr,
)
from alignops.errors import UsageError

if TYPE_CHECKING:  # the monitor's machinery (pandas, …) loads only for a monitor command
    from alignops.monitor import Monitor, MonitorReport

__all__ = ["monitor_app"]

monitor_app = typer.Typer(
    help="Watch deployed models: drift, fairness, latency, errors and cost against their "
    "policies and alert rules.",
    no_args_is_help=True,
)

EnvOption = Annotated[
    list[str] | None,
    typer.Option(
        "--env",
        help="Only this environment (repeat for more). Default: every environment.",
        show_default=False,
    ),
]


def open_monitor(repo: Path, db: str | None, environments: list[str] | None) -> Monitor:
    """The monitor of a config repository and its state database (closed by the caller
    through ``monitor.database.close()``)."""
    repository = open_repository(repo)
    if not repository.head():
        raise UsageError(f"{repository.root} has no commits yet; commit the config first")
    audit = open_audit_log(db, repository.root)
    from alignops.monitor import Monitor

    return Monitor(
        repository,
        database=audit.db,
        audit=audit,
        environments=tuple(environments or ()),
        evidence_store=evidence_store(repository),
    )


@monitor_app.command("status")
def status_command(
    environments: EnvOption = None,
    windows: Annotated[
        int, typer.Option("--windows", "-n", help="Latest windows shown per deployment.", min=1)
    ] = 3,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Add new telemetry into the windows, then show per deployment the latest windows
    (requests, p50/p95/p99, error rate, cold starts, largest PSI, parity, cost rate),
    its rules, what cannot be watched live, and its firing alerts."""
    fmt = output.value
    with errors_reported(fmt):
        monitor = open_monitor(repo, db, environments)
        try:
            status = monitor.status(windows=windows)
        finally:
            monitor.database.close()
    if output == Format.json:
        print_json(status)
    else:
        print_status(status)


@monitor_app.command("run")
def run_command(
    once: Annotated[bool, typer.Option("--once", help="Run one tick and exit.")] = False,
    interval: Annotated[
        float, typer.Option(help="Seconds between the end of one tick and the next.", min=0.1)
    ] = 30.0,
    environments: EnvOption = None,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Run the monitor: update the windows, judge the rules on the windows that closed,
    open, update and resolve alerts, notify their routes (once per window and route),
    propose or run remediations. One line per tick (-o json: one JSON object per line).

    Exit codes: with --once, 0 when the tick had no problem, 1 when it reported one (an
    alert target without a route, a failed remediation, a part that could not be
    read), 2 input error; without --once, 0 when stopped by SIGTERM or Ctrl-C.
    """
    fmt = output.value
    with errors_reported(fmt):
        monitor = open_monitor(repo, db, environments)
    try:
        if once:
            report = monitor.tick()
            _report(report, fmt)
            raise typer.Exit(EXIT_OK if report.ok else EXIT_DENY)
        _loop(monitor, interval, fmt)
    finally:
        monitor.database.close()


def _report(report: MonitorReport, fmt: str) -> None:
    if fmt == "json":
        print_json(report.to_dict())
    else:
        print_tick(report)


def _loop(monitor: Monitor, interval: float, fmt: str) -> None:
    stopping = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        stderr.print(f"{signal.Signals(signum).name}: finishing the current tick, then stopping")
        stopping.set()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    stderr.print(Text(f"monitoring every {interval:g} s; Ctrl-C stops"))
    try:
        while not stopping.is_set():
            _report(monitor.tick(), fmt)
            stopping.wait(interval)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    stderr.print("stopped")

"""``alignops alerts``: the alerts the monitor opened, and what people do about them.

``list`` and ``show`` read the ``alerts`` table; ``ack`` records who looked at an alert;
``silence`` holds the notifications of the alerts whose labels match until it expires
(``unsilence`` ends it early, ``silences`` lists them); ``remediate`` runs the
remediation an alert proposed. Every change is in the audit log. docs/monitoring.md has
examples.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from alignops.cli.context import DbOption, RepoOption
from alignops.cli.monitor import open_monitor
from alignops.cli.monitor_output import print_alert, print_alerts, print_silences, when
from alignops.cli.output import Format, OutputOption, console, errors_reported, print_json
from alignops.monitor.silences import parse_duration, parse_matchers

__all__ = ["alerts_app"]

alerts_app = typer.Typer(
    help="Alerts on deployed models: list, show, acknowledge, silence, remediate.",
    no_args_is_help=True,
)


class State(StrEnum):
    firing = "firing"
    resolved = "resolved"
    all = "all"


AlertId = Annotated[int, typer.Argument(help="The alert's number (alignops alerts list).")]


@alerts_app.command("list")
def list_command(
    state: Annotated[State, typer.Option("--state", help="Which alerts.")] = State.firing,
    environment: Annotated[
        str | None, typer.Option("--env", help="Only this environment.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.", min=1)] = 100,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """List alerts, newest first: firing ones by default."""
    with errors_reported(output.value):
        monitor = open_monitor(repo, db, None)
        try:
            found = monitor.alerts.find(
                state=None if state == State.all else state.value,
                environment=environment,
                limit=limit,
            )
        finally:
            monitor.database.close()
    rows = [a.to_dict() for a in found]
    if output == Format.json:
        print_json({"state": state.value, "alerts": rows})
    else:
        print_alerts(rows, state.value)


@alerts_app.command("show")
def show_command(
    alert_id: AlertId,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Show one alert: every window it lasted with the values over the threshold, its
    remediation, and each notification with its route and delivery status."""
    with errors_reported(output.value):
        monitor = open_monitor(repo, db, None)
        try:
            alert = monitor.alerts.get(alert_id).to_dict()
            sent = [n.to_dict() for n in monitor.alerts.notifications(alert_id)]
        finally:
            monitor.database.close()
    if output == Format.json:
        print_json({**alert, "notifications": sent})
    else:
        print_alert(alert, sent)


@alerts_app.command("ack")
def ack_command(
    alert_id: AlertId,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Acknowledge an alert: who (ALIGNOPS_ACTOR, else the OS user) and when are recorded.
    An acknowledged alert still updates, notifies and resolves."""
    with errors_reported(output.value):
        monitor = open_monitor(repo, db, None)
        try:
            alert = monitor.alerts.ack(alert_id)
        finally:
            monitor.database.close()
    if output == Format.json:
        print_json(alert.to_dict())
    else:
        console.print(f"alert {alert.id} acknowledged by {alert.acked_by}", soft_wrap=True)


@alerts_app.command("silence")
def silence_command(
    match: Annotated[
        list[str],
        typer.Option(
            "--match",
            help="LABEL=VALUE an alert must carry (repeat: all must hold). Labels: "
            "environment, deployment, rule, metric, severity, model.",
        ),
    ],
    duration: Annotated[
        str, typer.Option("--for", help="How long: 30m, 2h, 1d12h …", show_default=False)
    ],
    comment: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "",
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Hold the notifications of matching alerts until the silence expires. Alerts are
    still opened, updated and resolved; the first window judged after expiry notifies
    again."""
    with errors_reported(output.value):
        matchers = parse_matchers(match)
        length = parse_duration(duration)
        monitor = open_monitor(repo, db, None)
        try:
            silence = monitor.silences.create(matchers, length, comment=comment)
        finally:
            monitor.database.close()
    if output == Format.json:
        print_json(silence.to_dict(silence.created_at))
    else:
        what = " ".join(f"{k}={v}" for k, v in silence.matchers.items())
        console.print(
            f"silence {silence.id}: {what} until {when(silence.to_dict()['expiresAt'])} UTC",
            soft_wrap=True,
        )


@alerts_app.command("unsilence")
def unsilence_command(
    silence_id: Annotated[int, typer.Argument(help="The silence's number.")],
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """End a silence now."""
    with errors_reported(output.value):
        monitor = open_monitor(repo, db, None)
        try:
            silence = monitor.silences.end(silence_id)
        finally:
            monitor.database.close()
    if output == Format.json:
        print_json(silence.to_dict(silence.expires_at))
    else:
        console.print(f"silence {silence.id} ended", soft_wrap=True)


@alerts_app.command("silences")
def silences_command(
    show_all: Annotated[bool, typer.Option("--all", help="Expired silences too.")] = False,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """List the silences in force (with --all, expired ones too)."""
    with errors_reported(output.value):
        monitor = open_monitor(repo, db, None)
        try:
            now = monitor.clock()
            rows = [s.to_dict(now) for s in monitor.silences.find(active_only=not show_all)]
        finally:
            monitor.database.close()
    if output == Format.json:
        print_json({"silences": rows})
    else:
        print_silences(rows)


@alerts_app.command("remediate")
def remediate_command(
    alert_id: AlertId,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Run the remediation an alert proposed (rollback commit, retraining request
    branch, scale change), as its rule declared it when the alert opened.

    Exit codes: 0 done or nothing to do, 1 it failed, 2 input error."""
    with errors_reported(output.value):
        monitor = open_monitor(repo, db, None)
        try:
            alert, outcome = monitor.remediate(alert_id)
        finally:
            monitor.database.close()
    if output == Format.json:
        print_json({"alert": alert.id, "remediation": outcome.to_dict()})
    else:
        where = f" on {outcome.branch}" if outcome.branch else ""
        commit = f" (commit {outcome.commit[:12]})" if outcome.commit else ""
        head = f"alert {alert.id}: {outcome.action} {outcome.status}{where}{commit}"
        console.print(f"{head}: {outcome.message}", soft_wrap=True)
    if outcome.status == "failed":
        raise typer.Exit(1)

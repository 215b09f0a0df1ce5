"""``alignops audit``: read and verify the tamper-evident audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from alignops.cli.context import DbOption, open_audit_log
from alignops.cli.output import (
    EXIT_DENY,
    Format,
    OutputOption,
    console,
    errors_reported,
    print_json,
)
from alignops.errors import AlignOpsError
from alignops.source import ConfigRepository

__all__ = ["audit_app"]

audit_app = typer.Typer(help="Read and verify the audit log.", no_args_is_help=True)

RepoRootOption = Annotated[
    Path,
    typer.Option("--repo", "-C", help="Config repository whose .alignops/state.db to use."),
]


def _repo_root(path: Path) -> Path | None:
    try:
        return ConfigRepository(path).root
    except AlignOpsError:
        return None


def _summary(payload: Any) -> str:
    if isinstance(payload, dict):
        if "outcome" in payload and "summary" in payload:
            s = payload["summary"]
            return (
                f"{payload['outcome']}: {s.get('denied', 0)} denied, "
                f"{s.get('warnings', 0)} warnings, {s.get('waived', 0)} waived"
            )
        return ", ".join(f"{k}={v}" for k, v in list(payload.items())[:4])
    return str(payload)


@audit_app.command("log")
def log_command(
    limit: Annotated[int, typer.Option(help="Show at most this many records.")] = 20,
    action: Annotated[
        str | None, typer.Option(help="Only this action (* globs), e.g. 'gate.*'.")
    ] = None,
    subject: Annotated[str | None, typer.Option(help="Only this subject.")] = None,
    output: OutputOption = Format.text,
    repo: RepoRootOption = Path("."),
    db: DbOption = None,
) -> None:
    """Show audit records, newest first."""
    with errors_reported(output.value):
        records = open_audit_log(db, _repo_root(repo)).records(
            limit=limit, action=action, subject=subject
        )
    if output == Format.json:
        print_json([r.to_dict() for r in records])
        return
    table = Table()
    for column in ("seq", "recorded at (UTC)", "actor", "action", "subject", "summary", "hash"):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(
            str(r.seq),
            r.recorded_at[:19].replace("T", " "),
            r.actor,
            r.action,
            r.subject[:12] if len(r.subject) == 40 else r.subject,
            _summary(r.data),
            r.hash[:12],
        )
    console.print(table)


@audit_app.command("verify")
def verify_command(
    expect_head: Annotated[
        str | None,
        typer.Option(help="A head hash recorded earlier; fail if it is not in the log."),
    ] = None,
    output: OutputOption = Format.text,
    repo: RepoRootOption = Path("."),
    db: DbOption = None,
) -> None:
    """Recompute the hash chain; exit 1 if any record was edited, deleted, reordered or
    the log truncated."""
    with errors_reported(output.value):
        report = open_audit_log(db, _repo_root(repo)).verify(expect_head=expect_head)
    if output == Format.json:
        print_json(report.to_dict())
    elif report.ok:
        console.print(
            f"[bold green]OK[/]  {report.records} records, chain intact, "
            f"head {report.head_seq} {report.head_hash}"
        )
    else:
        console.print(f"[bold red]TAMPERED[/]  {report.records} records checked")
        for problem in report.problems:
            console.print(f"  [red]{problem.kind}[/]: {problem.message}")
    if not report.ok:
        raise typer.Exit(EXIT_DENY)

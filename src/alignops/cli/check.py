"""``alignops check``: gate a revision of the config repository."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from alignops.audit import AuditLog
from alignops.cli.context import (
    DbOption,
    RepoOption,
    evidence_store,
    open_audit_log,
    open_repository,
)
from alignops.cli.output import EXIT_DENY, EXIT_OK, console, errors_reported
from alignops.cli.progress import progress_reporter
from alignops.errors import UsageError
from alignops.evidence.usage import save_usage
from alignops.gate import Verdict, check
from alignops.gate.formats import RENDERERS

__all__ = ["check_command", "print_verdict", "record_verdict"]


class CheckFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    junit = "junit"
    markdown = "markdown"


_STYLE = {"deny": "bold red", "warn": "yellow", "pass": "bold green"}


def evidence_index(verdict: Verdict) -> list[dict[str, str]]:
    """What evidence a verdict rests on, for the evidence ref."""
    return [
        {"model": model, "check": item["check"], "key": item["key"]}
        for model, items in verdict.evidence.items()
        for item in items
        if item["key"] and item["metrics"] is not None
    ]


def record_verdict(audit: AuditLog, verdict: Verdict) -> None:
    """Append a verdict to the audit log, subject: the revision (or content digest)."""
    audit.append("gate.verdict", verdict.revision or verdict.digest, verdict.to_dict())


def print_verdict(verdict: Verdict) -> None:
    """The verdict as a terminal table and a one-line summary."""
    if verdict.findings:
        table = Table(show_lines=False, expand=True, pad_edge=False)
        table.add_column("resource", overflow="fold", ratio=2)
        table.add_column("rule", overflow="fold", ratio=2)
        table.add_column("severity", no_wrap=True)
        table.add_column("message", overflow="fold", ratio=4)
        table.add_column("location", overflow="fold", ratio=2)
        for f in verdict.findings:
            severity = "waived" if f.waived else f.severity
            message = Text(f.message)
            if f.waiver is not None:
                note = (
                    f"\nwaived by Exception {f.waiver.name} ({f.waiver.owner}) until "
                    f"{f.waiver.expires_at:%Y-%m-%d}: {f.waiver.reason}"
                    if f.waived
                    else f"\nException {f.waiver.name} expired on {f.waiver.expires_at:%Y-%m-%d}"
                )
                message.append(note, style="dim")
            table.add_row(
                f.resource,
                f.rule,
                Text(severity, style=_STYLE.get(severity, "dim")),
                message,
                f.location,
            )
        console.print(table)
    s = verdict.summary()
    scope = f"{s['resourcesChecked']}/{s['resourcesTotal']} resources"
    if verdict.base:
        scope += f" changed since {verdict.base[:12]}"
    revision = verdict.revision[:12] or "(no commit)"
    if verdict.label == "worktree":
        revision += " + working tree"
    line = Text()
    line.append(verdict.outcome.upper(), style=_STYLE[verdict.outcome])
    line.append(
        f"  {s['denied']} denied · {s['warnings']} warnings · {s['waived']} waived · "
        f"{scope} · {s['rules']} rules · {revision}"
    )
    console.print(line)


def check_command(
    revision: Annotated[
        str | None,
        typer.Argument(help="Revision to gate (branch, tag, sha). Default: the working tree."),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(help="Only gate resources affected by changes since this revision."),
    ] = None,
    environment: Annotated[
        str | None, typer.Option("--env", help="Environment, given to policies as data.")
    ] = None,
    output: Annotated[
        CheckFormat,
        typer.Option("--output", "-o", help="Output format.", case_sensitive=False),
    ] = CheckFormat.text,
    fail_on_warn: Annotated[
        bool, typer.Option("--fail-on-warn", help="Exit 1 on warnings too.")
    ] = False,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Gate a revision: validate manifests, evaluate policies, print the verdict.

    Exit codes: 0 pass, 1 deny (or warn with --fail-on-warn), 2 input error,
    3 internal error. Every verdict is appended to the audit log.
    """
    fmt = output.value
    with errors_reported("json" if fmt == "json" else "text"):
        repository = open_repository(repo)
        snapshot = repository.snapshot(revision)
        base_snapshot = repository.snapshot(base) if base is not None else None
        if environment is not None and snapshot.config.environment(environment) is None:
            known = ", ".join(e.name for e in snapshot.config.environments) or "none"
            raise UsageError(f"unknown environment {environment!r}; alignops.yaml defines {known}")
        store = evidence_store(repository)
        with progress_reporter(quiet=fmt != "text") as progress:
            verdict = check(
                snapshot,
                base=base_snapshot,
                environment=environment,
                evidence_store=store,
                progress=progress,
            )
        audit = open_audit_log(db, repository.root)
        record_verdict(audit, verdict)
        save_usage(audit.db, verdict.usage)
        if not snapshot.worktree:
            store.record_revision(verdict.revision, evidence_index(verdict))
    if fmt == "text":
        print_verdict(verdict)
    else:
        sys.stdout.write(RENDERERS[fmt](verdict))
    failed = verdict.outcome == "deny" or (fail_on_warn and verdict.outcome == "warn")
    raise typer.Exit(EXIT_DENY if failed else EXIT_OK)

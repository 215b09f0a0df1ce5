"""``alignops plan | sync | status | history``: deliver revisions to an environment.

``plan`` shows what a sync would change; ``sync`` gates a revision and, unless denied,
makes the environment run it; ``status`` shows what runs and whether it is healthy;
``history`` lists past syncs from the audit log. docs/delivery.md has examples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from alignops.audit import AuditLog
from alignops.cli.check import evidence_index
from alignops.cli.context import (
    DbOption,
    RepoOption,
    evidence_store,
    open_audit_log,
    open_repository,
)
from alignops.cli.deliver_output import (
    print_history,
    print_plan,
    print_status,
    print_sync,
    status_rows,
)
from alignops.cli.output import (
    EXIT_DENY,
    EXIT_OK,
    Format,
    OutputOption,
    console,
    errors_reported,
    print_json,
)
from alignops.cli.progress import progress_reporter
from alignops.errors import UsageError
from alignops.evidence.store import EvidenceStore
from alignops.gate import Verdict
from alignops.manifests.snapshot import Snapshot
from alignops.reconcile.providers import LocalProvider, ProviderContext
from alignops.reconcile.sync import open_providers, plan_environment, sync
from alignops.source import ConfigRepository

__all__ = [
    "down_command",
    "gate_evidence",
    "history_command",
    "plan_command",
    "status_command",
    "sync_command",
]

RevisionArgument = Annotated[
    str, typer.Argument(help="Revision to deliver (branch, tag, sha). Default: HEAD.")
]
EnvOption = Annotated[
    str | None,
    typer.Option("--env", help="Environment. Default: the first one in alignops.yaml."),
]


@dataclass
class _Session:
    repository: ConfigRepository
    snapshot: Snapshot
    environment: str
    audit: AuditLog
    context: ProviderContext


def _environment(snapshot: Snapshot, requested: str | None) -> str:
    names = [e.name for e in snapshot.config.environments]
    if requested is None:
        if not names:
            raise UsageError("alignops.yaml defines no environments; add one to deliver to")
        return names[0]
    if requested not in names:
        raise UsageError(
            f"unknown environment {requested!r}; alignops.yaml defines {', '.join(names) or 'none'}"
        )
    return requested


@contextmanager
def _session(
    repo: Path, revision: str, env: str | None, db: str | None, progress: Callable[[str], None]
) -> Iterator[_Session]:
    repository = open_repository(repo)
    if not repository.head():
        raise UsageError(f"{repository.root} has no commits yet; commit the config first")
    snapshot = repository.snapshot(revision)
    environment = _environment(snapshot, env)
    audit = open_audit_log(db, repository.root)
    context = ProviderContext(repository.root / ".alignops", audit.db, progress)
    try:
        yield _Session(repository, snapshot, environment, audit, context)
    finally:
        audit.db.close()


def gate_evidence(repository: ConfigRepository) -> tuple[EvidenceStore, Callable[[Verdict], None]]:
    """What a sync gates with: the repository's evidence store, and the hook that
    versions the evidence a verdict rests on with its revision (on the evidence ref)."""
    store = evidence_store(repository)
    return store, lambda v: store.record_revision(v.revision, evidence_index(v))


def plan_command(
    revision: RevisionArgument = "HEAD",
    environment: EnvOption = None,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Show what a sync of a revision would change in an environment (without gating
    it: `alignops check REV` tells whether the gate lets it through)."""
    with errors_reported(output.value), _session(repo, revision, environment, db, _quiet) as s:
        providers = open_providers(s.snapshot, s.context)
        planned = plan_environment(s.snapshot, s.environment, providers, audit=s.audit)
    if output == Format.json:
        print_json(planned.to_dict())
    else:
        print_plan(planned)


def sync_command(
    revision: RevisionArgument = "HEAD",
    environment: EnvOption = None,
    prune: Annotated[
        bool, typer.Option(help="Stop services the revision no longer declares.")
    ] = True,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Gate a revision and, unless the gate denies it, make an environment run it:
    plan, apply, prune, health-check. Every step goes to the audit log.

    Exit codes: 0 synced, 1 refused by the gate, a service failed (the services that
    ran before keep running) or drift was reported (`drift: report`), 2 input error,
    3 internal error.
    """
    fmt = output.value
    with (
        errors_reported(fmt),
        progress_reporter(quiet=fmt != "text") as progress,
        _session(repo, revision, environment, db, progress) as s,
    ):
        store, on_verdict = gate_evidence(s.repository)
        result = sync(
            s.snapshot,
            environment=s.environment,
            context=s.context,
            audit=s.audit,
            evidence_store=store,
            prune=prune,
            on_verdict=on_verdict,
            repository=s.repository,
        )
    if output == Format.json:
        print_json(result.to_dict())
    else:
        print_sync(result)
    raise typer.Exit(EXIT_OK if result.outcome == "synced" else EXIT_DENY)


def status_command(
    environment: EnvOption = None,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Show the services of an environment: revision, models, URL, pid, health, start
    time — what runs, and what HEAD declares that does not run."""
    with errors_reported(output.value), _session(repo, "HEAD", environment, db, _quiet) as s:
        providers = open_providers(s.snapshot, s.context)
        planned = plan_environment(s.snapshot, s.environment, providers)
        rows = status_rows(planned, providers)
    if output == Format.json:
        print_json({"environment": planned.environment, "services": rows})
    else:
        print_status(planned.environment, rows)


def history_command(
    environment: EnvOption = None,
    limit: Annotated[int, typer.Option(help="Show at most this many syncs.")] = 20,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Show past syncs of an environment (from the audit log), newest first."""
    with errors_reported(output.value), _session(repo, "HEAD", environment, db, _quiet) as s:
        records = s.audit.records(action="sync.finished", subject=s.environment, limit=limit)
        failed = s.audit.records(action="sync.failed", subject=s.environment, limit=limit)
    entries: list[dict[str, Any]] = [
        {"seq": r.seq, "recordedAt": r.recorded_at, "actor": r.actor, **r.data} for r in records
    ]
    entries += [
        {
            "seq": r.seq,
            "recordedAt": r.recorded_at,
            "actor": r.actor,
            "environment": r.data.get("environment"),
            "revision": r.data.get("revision"),
            "outcome": "error",
            "error": f"{r.data.get('step')}: {r.data.get('message')}",
        }
        for r in failed
    ]
    entries = sorted(entries, key=lambda e: -int(e["seq"]))[:limit]
    if output == Format.json:
        print_json(entries)
    else:
        print_history(entries)


def _quiet(_: str) -> None:
    return None


def down_command(
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Stop every local service of this repository (all environments), the activator
    and the launcher. The next sync starts what the revision declares again."""
    with errors_reported(output.value), _session(repo, "HEAD", None, db, _quiet) as s:
        stopped: list[str] = []
        for provider in open_providers(s.snapshot, s.context).values():
            if isinstance(provider, LocalProvider):
                stopped += provider.shutdown()
        s.audit.append("delivery.down", s.repository.root.name, {"stopped": stopped})
    if output == Format.json:
        print_json({"stopped": stopped})
    elif not stopped:
        console.print("nothing was running")
    else:
        for line in stopped:
            console.print(f"stopped {line}", soft_wrap=True)

"""``alignops rollback DEPLOYMENT``: commit the revert to its last compliant version, then
sync it. docs/delivery.md#rollback has examples."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from alignops.cli.context import DbOption, RepoOption, open_audit_log, open_repository
from alignops.cli.deliver import EnvOption, gate_evidence
from alignops.cli.deliver_output import print_sync
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
from alignops.manifests.kinds import ModelDeployment
from alignops.manifests.snapshot import Snapshot
from alignops.reconcile.plan import describe_change
from alignops.reconcile.providers import ProviderContext
from alignops.reconcile.rollback import Rollback, deployment_id, rollback
from alignops.reconcile.sync import SyncResult, sync

__all__ = ["rollback_command"]


def rollback_command(
    deployment: Annotated[
        str, typer.Argument(help="The deployment: NAME or ModelDeployment/NAME.")
    ],
    environment: EnvOption = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Revision whose version to restore (it must pass the gate). "
            "Default: the last compliant version.",
        ),
    ] = None,
    then_sync: Annotated[
        bool,
        typer.Option("--sync/--no-sync", help="Sync the environment at the revert commit."),
    ] = True,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Roll a deployment back through Git: commit, on its environment's branch, the
    files that defined it at its last compliant version (or --to REV), then sync.

    Without --env, the environment the deployment declares at HEAD. Every step goes to
    the audit log. Exit codes: 0 rolled back (and synced), 1 --to is denied by the gate
    or the sync did not succeed, 2 nothing to roll back to or uncommitted changes to
    its files (nothing committed), 3 internal error.
    """
    fmt = output.value
    synced: SyncResult | None = None
    with errors_reported(fmt), progress_reporter(quiet=fmt != "text") as progress:
        repository = open_repository(repo)
        if not repository.head():
            raise UsageError(f"{repository.root} has no commits yet; nothing to roll back")
        name = deployment_id(deployment)
        env = environment or _declared_environment(repository.snapshot("HEAD"), name)
        audit = open_audit_log(db, repository.root)
        try:
            store, on_verdict = gate_evidence(repository)
            done = rollback(
                repository, name, env, audit, to, evidence_store=store, progress=progress
            )
            if done.commit is not None and then_sync:
                synced = sync(
                    repository.snapshot(done.commit),
                    environment=env,
                    context=ProviderContext(repository.root / ".alignops", audit.db, progress),
                    audit=audit,
                    evidence_store=store,
                    on_verdict=on_verdict,
                )
        finally:
            audit.db.close()
    if output == Format.json:
        print_json(_document(done, synced))
    else:
        print_rollback(done)
        if synced is not None:
            print_sync(synced)
    ok = done.commit is not None and (synced is None or synced.outcome == "synced")
    raise typer.Exit(EXIT_OK if ok else EXIT_DENY)


def _declared_environment(snapshot: Snapshot, name: str) -> str:
    resource = snapshot.resources.get(name)
    if resource is None or not isinstance(resource.model, ModelDeployment):
        raise UsageError(f"no {name} at HEAD ({snapshot.short}); name one that is declared")
    return resource.model.spec.environment


def _document(done: Rollback, synced: SyncResult | None) -> dict[str, Any]:
    return {"rollback": done.to_dict(), "sync": synced.to_dict() if synced else None}


def print_rollback(done: Rollback) -> None:
    if done.commit is None:
        for d in done.denials:
            line = Text("denied ", style="bold red")
            line.append(f"{d['resource']} ({d['location']}): {d['message']} ")
            line.append(f"[{d['rule']}]", style="dim")
            console.print(line, soft_wrap=True)
        line = Text("REFUSED", style="bold red")
        line.append(
            f"  {done.deployment} in {done.environment}: the gate denies "
            f"{done.to_revision[:12]}; nothing was committed"
        )
        console.print(line, soft_wrap=True)
        return
    line = Text("ROLLED BACK", style="bold yellow")
    line.append(
        f"  {done.deployment} in {done.environment}: committed {done.commit[:12]} on "
        f"{done.branch}, restoring {done.to_revision[:12]} (from {done.from_revision[:12]})"
    )
    console.print(line, soft_wrap=True)
    for change in done.changes:
        console.print(f"  {describe_change(*change)}", soft_wrap=True)
    for path, how in done.files.items():
        console.print(Text(f"  {how} {path}", style="dim"), soft_wrap=True)

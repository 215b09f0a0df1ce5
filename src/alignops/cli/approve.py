"""``alignops approve``: sign an approval of a model version (or of a governance change)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Annotated

import typer

from alignops.approvals.governance import (
    GOVERNANCE_FILE,
    Governance,
    parse_governance,
    trusted_governance,
)
from alignops.approvals.records import (
    ApprovalRecord,
    ApprovalSpec,
    now,
    public_key_line,
    record_path,
    render_record,
    sign_spec,
)
from alignops.approvals.verify import policy_digest
from alignops.cli.context import RepoOption, open_repository
from alignops.cli.output import Format, OutputOption, console, errors_reported, print_json
from alignops.errors import UsageError
from alignops.gate.requirements import policies_for
from alignops.manifests.kinds import Model, ModelDeploymentPolicy
from alignops.manifests.snapshot import Snapshot
from alignops.source import ConfigRepository

__all__ = ["approve_command", "write_approval"]


def write_approval(
    repository: ConfigRepository,
    resource: str,
    private: bytes,
    *,
    group: str | None = None,
    comment: str = "",
    password: bytes | None = None,
) -> tuple[str, ApprovalSpec]:
    """Sign an approval of ``resource`` as the member owning the key; write its record."""
    snapshot = repository.snapshot(None)
    public = public_key_line(private, password=password)
    governance = trusted_governance(snapshot).trusted
    if governance is None:
        raise UsageError(f"no trusted {GOVERNANCE_FILE}: nobody can approve yet")
    blob = public.split()[1]
    member = next(
        (m for m in governance.members if any(k.split()[1] == blob for k in m.keys)), None
    )
    if member is None:
        raise UsageError(f"the key belongs to no member of the trusted {GOVERNANCE_FILE}")
    if resource in ("governance", GOVERNANCE_FILE):
        parse_governance(snapshot.read(GOVERNANCE_FILE))
        content = snapshot.read(GOVERNANCE_FILE)
        spec = ApprovalSpec.model_validate(
            {
                "resource": GOVERNANCE_FILE,
                "digests": {"governance": hashlib.sha256(content).hexdigest()},
                "approver": member.name,
                "approvedAt": now(),
                "comment": comment,
            }
        )
    else:
        spec = _model_spec(snapshot, resource, governance, member.name, group, comment)
    record = ApprovalRecord(spec=spec, signature=sign_spec(spec, private, password=password))
    path = record_path(spec)
    target = repository.root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_record(record))
    return path, spec


def _model_spec(
    snapshot: Snapshot,
    resource: str,
    governance: Governance,
    approver: str,
    group: str | None,
    comment: str,
) -> ApprovalSpec:
    name = resource.removeprefix("Model/")
    target = snapshot.resources.get(f"Model/{name}")
    if target is None or not isinstance(target.model, Model):
        raise UsageError(f"no Model named {name!r} in the working tree")
    policies = policies_for(snapshot, target)
    asked = [
        g
        for p in policies
        if isinstance(p.model, ModelDeploymentPolicy) and p.model.spec.approval_workflow
        for g in p.model.spec.approval_workflow.groups
    ]
    if not asked:
        raise UsageError(f"no policy asks for approvals of Model/{name}")
    mine = [
        g
        for g in dict.fromkeys(asked)
        if (found := governance.group(g)) is not None and approver in found.members
    ]
    if group is None:
        if len(mine) != 1:
            raise UsageError(
                f"{approver} is in {len(mine)} of the groups the policy asks for "
                f"({', '.join(mine) or 'none'}); choose one with --group"
            )
        group = mine[0]
    elif group not in mine:
        raise UsageError(
            f"{approver} cannot approve for {group}; their groups: {', '.join(mine) or 'none'}"
        )
    return ApprovalSpec.model_validate(
        {
            "resource": f"Model/{name}",
            "digests": {
                "model": target.model.spec.artifact.sha256,
                "policy": policy_digest(policies),
            },
            "approver": approver,
            "group": group,
            "approvedAt": now(),
            "comment": comment,
        }
    )


def approve_command(
    resource: Annotated[
        str, typer.Argument(help="Model/NAME (or NAME) to approve, or 'governance'.")
    ],
    key: Annotated[Path, typer.Option(help="Your SSH private key (OpenSSH format).")],
    group: Annotated[
        str | None, typer.Option(help="The group you approve for, if you are in several.")
    ] = None,
    comment: Annotated[str, typer.Option(help="What you reviewed.")] = "",
    password_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the key's password.")
    ] = None,
    commit: Annotated[bool, typer.Option(help="Commit the record.")] = False,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
) -> None:
    """Write a signed approval record binding the resource, the model digest and the
    digest of the policies that select it, as they are in the working tree."""

    with errors_reported(output.value):
        repository = open_repository(repo)
        try:
            private = key.expanduser().read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read key {key}: {exc.strerror}") from None
        password = os.environ.get(password_env, "").encode() if password_env else None
        path, spec = write_approval(
            repository, resource, private, group=group, comment=comment, password=password
        )
        revision = (
            repository.commit_all(f"Approve {spec.resource} ({spec.approver})") if commit else None
        )
    if output == Format.json:
        print_json(
            {
                "record": path,
                "approver": spec.approver,
                "group": spec.group,
                "digests": spec.digests,
                "commit": revision,
            }
        )
        return
    console.print(
        f"[bold green]signed[/] {path} as {spec.approver}"
        + (f" for {spec.group}" if spec.group else "")
    )
    if revision:
        console.print(f"committed {revision[:12]}")
    else:
        console.print(f"commit it: git add {path} && git commit")

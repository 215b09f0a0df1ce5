"""``governance/groups.yaml``: who may approve, with which keys, and who guards the file.

The file that counts is the *trusted* one. The first version in the history is trusted
as it is (trust on first use). Every later change is trusted only when admins of the
version before it — not the change's author — approved the new content with a signed
record (``alignops approve governance``). So nobody can add themselves to a group, or
add a key, in the change that uses it: approvals are always checked against the last
trusted version, and an unapproved change denies the revision.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from alignops.errors import ApprovalError, ManifestError
from alignops.manifests.base import Spec
from alignops.manifests.documents import parse_documents
from alignops.manifests.loader import validation_problems
from alignops.manifests.snapshot import FileVersion, Snapshot

__all__ = [
    "GOVERNANCE_FILE",
    "Governance",
    "GovernanceTrust",
    "Member",
    "parse_governance",
    "trusted_governance",
]

GOVERNANCE_FILE = "governance/groups.yaml"


class Member(Spec):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    email: str | None = None
    keys: list[str] = Field(min_length=1, description="OpenSSH public key lines")


class Group(Spec):
    name: str
    members: list[str] = Field(default_factory=list)


class Governance(Spec):
    api_version: Literal["alignops.dev/v1alpha1"] = "alignops.dev/v1alpha1"
    kind: Literal["Governance"] = "Governance"
    admins: list[str] = Field(min_length=1, description="members who approve changes to this file")
    min_admin_approvals: int = Field(default=1, ge=1)
    members: list[Member] = Field(default_factory=list)
    groups: list[Group] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names_resolve(self) -> Governance:
        known = {m.name for m in self.members}
        for name in [*self.admins, *(n for g in self.groups for n in g.members)]:
            if name not in known:
                raise ValueError(f"{name!r} is not in members")
        return self

    def member(self, name: str) -> Member | None:
        return next((m for m in self.members if m.name == name), None)

    def group(self, name: str) -> Group | None:
        return next((g for g in self.groups if g.name == name), None)

    def member_by_email(self, email: str) -> Member | None:
        return next((m for m in self.members if m.email and m.email.lower() == email.lower()), None)


def parse_governance(data: bytes, *, file: str = GOVERNANCE_FILE) -> Governance:
    docs = parse_documents(file, data)
    if len(docs) != 1:
        raise ManifestError.single(file, "must hold exactly one YAML mapping", line=1)
    try:
        return Governance.model_validate(docs[0].value)
    except ValidationError as exc:
        raise ManifestError("", problems=validation_problems(docs[0], exc, Governance)) from None


@dataclass(frozen=True)
class GovernanceTrust:
    """The governance version approvals are checked against, and why later ones are not."""

    trusted: Governance | None
    trusted_revision: str | None
    problems: tuple[str, ...] = field(default=())


def trusted_governance(snapshot: Snapshot) -> GovernanceTrust:
    """Walk the history of the governance file and keep the last approved version."""
    from alignops.approvals.records import load_records, verify_governance_approvals

    history = list(reversed(snapshot.source.history(GOVERNANCE_FILE)))
    if not history:
        return GovernanceTrust(None, None)
    first = history[0]
    trusted = _parse_version(snapshot, first)
    trusted_revision = first.revision
    records = load_records(snapshot)
    for version in history[1:]:
        if trusted is None:
            return GovernanceTrust(None, None, (f"{GOVERNANCE_FILE}: no valid version to trust",))
        content = snapshot.source.blob(version.oid) if version.oid else b""
        digest = hashlib.sha256(content).hexdigest()
        counted, reasons = verify_governance_approvals(records, trusted, digest, version)
        if counted < trusted.min_admin_approvals:
            where = "the working tree" if version.revision == "worktree" else version.revision[:12]
            why = "; ".join(reasons) if reasons else "no approval records for it"
            return GovernanceTrust(
                trusted,
                trusted_revision,
                (
                    f"{GOVERNANCE_FILE} changed in {where} by {version.author_email} without "
                    f"{trusted.min_admin_approvals} approval(s) by an admin of the previous "
                    f"version other than the author ({', '.join(trusted.admins)}): {why}",
                ),
            )
        if version.oid is None:
            return GovernanceTrust(None, version.revision)
        trusted = _parse_version(snapshot, version)
        trusted_revision = version.revision
    return GovernanceTrust(trusted, trusted_revision)


def _parse_version(snapshot: Snapshot, version: FileVersion) -> Governance | None:
    if version.oid is None:
        return None
    try:
        return parse_governance(snapshot.source.blob(version.oid))
    except ManifestError as exc:
        raise ApprovalError(
            f"{GOVERNANCE_FILE} at {version.revision[:12]} is invalid: {exc}"
        ) from None

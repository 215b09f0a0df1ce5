"""Whether a model version has the approvals its policies ask for.

An approval counts only if: its record parses and is signed; the approver is a member of
the trusted governance file and one of their keys made the signature; they are a member
of the group the record names, and the policy asks for that group; the record's model
and policy digests are those of the revision being gated (a new model version, or a
changed policy, invalidates older approvals); and the approver has not been counted
already — one person counts once, for one group.
The requirement holds when every group has a counted approval and at least
``minApprovals`` distinct people approved.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from alignops.approvals.governance import Governance
from alignops.approvals.records import LoadedRecord, verify_signature
from alignops.errors import ApprovalError
from alignops.manifests.loader import Resource

__all__ = ["ApprovalOutcome", "check_approvals", "policy_digest"]


def policy_digest(policies: Iterable[Resource]) -> str:
    """Digest of the policies that select a model, as written."""
    material = sorted((p.name, p.manifest) for p in policies)
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class ApprovalOutcome:
    satisfied: bool
    counted: dict[str, str] = field(default_factory=dict)
    """approver → group they count for"""
    rejected: tuple[tuple[str, str], ...] = ()
    """(record path, reason)"""
    missing_groups: tuple[str, ...] = ()
    needed: int = 0


def check_approvals(
    records: Iterable[LoadedRecord],
    *,
    model: str,
    model_digest: str,
    policy_digest_value: str,
    groups: list[str],
    min_approvals: int,
    governance: Governance | None,
) -> ApprovalOutcome:
    resource = f"Model/{model}"
    counted: dict[str, str] = {}
    counted_where: dict[str, str] = {}
    rejected: list[tuple[str, str]] = []
    for loaded in records:
        if loaded.record is None:
            if f"/{model}/" in f"/{loaded.path}":
                rejected.append((loaded.path, loaded.error or "unreadable"))
            continue
        spec = loaded.record.spec
        if spec.resource != resource:
            continue
        reason = _reject(loaded, spec.approver, spec.group, governance, groups)
        if reason is None and spec.digests.get("model") != model_digest:
            reason = (
                f"approves model digest {spec.digests.get('model', '?')[:12]}…, the revision has "
                f"{model_digest[:12]}… (a new model version needs a new approval)"
            )
        if reason is None and spec.digests.get("policy") != policy_digest_value:
            reason = (
                f"approves policy digest {spec.digests.get('policy', '?')[:12]}…, the policies "
                f"now have {policy_digest_value[:12]}… (they changed since the approval)"
            )
        if reason is None and spec.approver in counted:
            reason = (
                f"{spec.approver} is already counted ({counted_where[spec.approver]}); one "
                "person counts once"
            )
        if reason is not None:
            rejected.append((loaded.path, reason))
            continue
        assert spec.group is not None
        counted[spec.approver] = spec.group
        counted_where[spec.approver] = loaded.path
    covered = set(counted.values())
    missing = tuple(g for g in groups if g not in covered)
    satisfied = not missing and len(counted) >= min_approvals
    return ApprovalOutcome(satisfied, counted, tuple(rejected), missing, min_approvals)


def _reject(
    loaded: LoadedRecord,
    approver: str,
    group: str | None,
    governance: Governance | None,
    groups: list[str],
) -> str | None:
    assert loaded.record is not None
    if not loaded.record.signature:
        return "not signed"
    if governance is None:
        return "there is no trusted governance file (governance/groups.yaml) to check it against"
    member = governance.member(approver)
    if member is None:
        return f"{approver} is not a member in the trusted governance file"
    try:
        verify_signature(loaded.record, member.keys)
    except ApprovalError as exc:
        return f"signature: {exc}"
    if group is None:
        return "names no group"
    if group not in groups:
        return f"approves for {group}, which the policy does not ask for ({', '.join(groups)})"
    trusted_group = governance.group(group)
    if trusted_group is None or approver not in trusted_group.members:
        return f"{approver} is not a member of {group} in the trusted governance file"
    return None

"""The gate: a snapshot's resources against its policies, evidence and approvals →
:class:`Verdict`.

Order: governance trust → evidence and approvals for every model a
ModelDeploymentPolicy selects → Rego policies (which see the evidence under
``data.alignops.evidence``) → waivers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from alignops.approvals.governance import GOVERNANCE_FILE, parse_governance, trusted_governance
from alignops.approvals.records import load_records
from alignops.errors import ApprovalError
from alignops.evidence.collect import EvidenceBundle, collect
from alignops.evidence.store import EvidenceStore
from alignops.gate.requirements import (
    approval_findings,
    policies_for,
    requests_for,
    requirement_findings,
)
from alignops.gate.verdict import Finding, Verdict
from alignops.gate.waivers import apply_waivers
from alignops.manifests.kinds import ModelDeploymentPolicy, PolicyException
from alignops.manifests.loader import Resource
from alignops.manifests.snapshot import Snapshot
from alignops.policy.bundle import PolicySet
from alignops.source.diff import diff_snapshots

__all__ = ["check"]

Progress = Callable[[str], None]


def check(
    snapshot: Snapshot,
    *,
    base: Snapshot | None = None,
    environment: str | None = None,
    now: datetime | None = None,
    engine: str = "regorus",
    policies: PolicySet | None = None,
    evidence_store: EvidenceStore | None = None,
    progress: Progress | None = None,
) -> Verdict:
    """Gate every resource of ``snapshot``, or only those affected since ``base``.

    Fail closed: a rule that errors, evidence that cannot be produced, a missing or
    invalid approval are deny findings.
    """
    now = now or datetime.now(UTC)
    if base is None:
        ids = list(snapshot.resources)
        governance_changed = True
    else:
        changes = diff_snapshots(base, snapshot)
        ids = [rid for rid in snapshot.resources if rid in changes.affected]
        governance_changed = any(p.startswith("governance/") for p in changes.changed_paths)
    findings: list[Finding] = []
    bundles, approvals = _models(
        snapshot, ids, findings, evidence_store or EvidenceStore(), progress, governance_changed
    )
    evidence_data = {name: bundle.for_policies() for name, bundle in bundles.items()}
    policy_set = policies or PolicySet.load(
        snapshot, environment=environment, engine=engine, evidence=evidence_data
    )
    for rid in ids:
        resource = snapshot.resources[rid]
        for outcome in policy_set.evaluate(resource.manifest):
            rule = outcome.rule
            if outcome.error is not None:
                findings.append(
                    Finding(
                        rule=rule.id,
                        resource=rid,
                        severity="deny",
                        message=f"policy evaluation failed: {outcome.error}",
                        file=resource.file,
                        line=resource.line,
                        details={"policy": f"{rule.module}:{rule.line}"},
                    )
                )
            for message in outcome.messages:
                line = resource.line_of(message.field) if message.field else resource.line
                findings.append(
                    Finding(
                        rule=rule.id,
                        resource=rid,
                        severity=rule.severity,
                        message=message.text,
                        file=resource.file,
                        line=line,
                        field=message.field,
                        details=dict(message.details),
                    )
                )
        if resource.kind == "Exception":
            findings.extend(_expiry(resource, now))
    exceptions = snapshot.of_kind("Exception")
    return Verdict(
        revision=snapshot.revision,
        label=snapshot.label,
        digest=snapshot.digest,
        environment=environment,
        base=base.revision if base is not None else None,
        resources_total=len(snapshot.resources),
        resources_checked=tuple(ids),
        rules=tuple(r.id for r in policy_set.rules),
        findings=tuple(apply_waivers(findings, exceptions, now=now)),
        checked_at=now,
        engine=engine,
        evidence={
            name: [item.to_dict() for item in bundle.items.values()]
            for name, bundle in bundles.items()
        },
        approvals=approvals,
        usage=tuple(record for bundle in bundles.values() for record in bundle.usage),
    )


def _models(
    snapshot: Snapshot,
    ids: list[str],
    findings: list[Finding],
    store: EvidenceStore,
    progress: Progress | None,
    governance_changed: bool,
) -> tuple[dict[str, EvidenceBundle], dict[str, Any]]:
    """Evidence and approval findings for the models among ``ids`` that policies select."""
    models = [snapshot.resources[r] for r in ids if r.startswith("Model/")]
    selected = [(m, policies_for(snapshot, m)) for m in models]
    selected = [(m, p) for m, p in selected if p]
    needs_approval = any(
        isinstance(policy.model, ModelDeploymentPolicy) and policy.model.spec.approval_workflow
        for _, ps in selected
        for policy in ps
    )
    governance = None
    if GOVERNANCE_FILE in snapshot.files and (needs_approval or governance_changed):
        parse_governance(snapshot.read(GOVERNANCE_FILE))  # the current file must be valid input
        try:
            trust = trusted_governance(snapshot)
        except ApprovalError as exc:
            trust = None
            findings.append(_governance_finding(snapshot, str(exc)))
        if trust is not None:
            governance = trust.trusted
            findings.extend(_governance_finding(snapshot, p) for p in trust.problems)
    records = load_records(snapshot) if needs_approval else []
    bundles: dict[str, EvidenceBundle] = {}
    approvals: dict[str, Any] = {}
    for model, policies in selected:
        requests = requests_for(snapshot, model, policies)
        unique = list(dict.fromkeys(requests.values()))
        bundle = collect(snapshot, model, unique, store=store, progress=progress)
        bundles[model.name] = bundle
        findings.extend(requirement_findings(model, policies, bundle, requests))
        approval, summary = approval_findings(model, policies, records, governance)
        findings.extend(approval)
        approvals[model.name] = summary
    return bundles, approvals


def _governance_finding(snapshot: Snapshot, message: str) -> Finding:
    return Finding(
        rule="alignops.governance.change-approval",
        resource=GOVERNANCE_FILE,
        severity="deny",
        message=message,
        file=GOVERNANCE_FILE,
        line=1,
    )


def _expiry(resource: Resource, now: datetime) -> list[Finding]:
    model = resource.model
    assert isinstance(model, PolicyException)
    spec = model.spec
    if spec.expires_at > now:
        return []
    return [
        Finding(
            rule="alignops.exception.expired",
            resource=f"Exception/{model.name}",
            severity="warn",
            message=(
                f"expired on {spec.expires_at:%Y-%m-%d %H:%M} UTC; it no longer waives "
                f"{', '.join(spec.rules)} for {', '.join(spec.resources)} "
                f"(owner {spec.owner}): renew or remove it"
            ),
            file=resource.file,
            line=resource.line_of("spec.expiresAt"),
            field="spec.expiresAt",
        )
    ]

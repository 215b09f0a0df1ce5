"""The gate: evaluate a snapshot's resources against its policies → :class:`Verdict`."""

from __future__ import annotations

from datetime import UTC, datetime

from alignops.gate.verdict import Finding, Verdict
from alignops.gate.waivers import apply_waivers
from alignops.manifests.kinds import PolicyException
from alignops.manifests.loader import Resource
from alignops.manifests.snapshot import Snapshot
from alignops.policy.bundle import PolicySet
from alignops.source.diff import diff_snapshots

__all__ = ["check"]


def check(
    snapshot: Snapshot,
    *,
    base: Snapshot | None = None,
    environment: str | None = None,
    now: datetime | None = None,
    engine: str = "regorus",
    policies: PolicySet | None = None,
) -> Verdict:
    """Gate every resource of ``snapshot``, or only those affected since ``base``.

    Fail closed: a rule that errors is a deny finding for the resource it was evaluating.
    """
    now = now or datetime.now(UTC)
    policy_set = policies or PolicySet.load(snapshot, environment=environment, engine=engine)
    if base is None:
        ids = list(snapshot.resources)
    else:
        affected = diff_snapshots(base, snapshot).affected
        ids = [rid for rid in snapshot.resources if rid in affected]
    findings: list[Finding] = []
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

"""The built-in requirements of ``ModelDeploymentPolicy``: evidence and approvals → findings.

For each model a policy selects, each requirement asks for one evidence check and judges
its numbers; the approval workflow is judged on the approval records. Everything that
cannot be established is a deny (fail closed): a missing dataset, a digest that does not
match, an error in a check, an invalid explainability result, a missing approval.

Rule ids: ``alignops.requirement.<policy>.<requirement>`` (``explainability-report``,
``bias-detection``, ``data-drift-monitoring``, ``performance-threshold``, ``approval``),
so an ``Exception`` can waive one requirement of one policy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from alignops.approvals.governance import Governance
from alignops.approvals.records import LoadedRecord
from alignops.approvals.verify import check_approvals, policy_digest
from alignops.evidence.checks.drift import DriftConfig
from alignops.evidence.checks.explainability import ExplainabilityConfig
from alignops.evidence.checks.fairness import FairnessConfig
from alignops.evidence.checks.performance import PerformanceConfig
from alignops.evidence.collect import Evidence, EvidenceBundle, EvidenceRequest
from alignops.gate.verdict import Finding
from alignops.manifests.kinds import Dataset, Model, ModelDeploymentPolicy
from alignops.manifests.kinds.policy import (
    BiasDetection,
    DataDriftMonitoring,
    ExplainabilityReport,
    PerformanceThreshold,
    Requirement,
)
from alignops.manifests.loader import Resource
from alignops.manifests.snapshot import Snapshot

__all__ = ["approval_findings", "policies_for", "requests_for", "requirement_findings"]


def policies_for(snapshot: Snapshot, model: Resource) -> list[Resource]:
    """The ModelDeploymentPolicies that select a Model resource."""
    spec = model.model
    assert isinstance(spec, Model)
    out = []
    for policy in snapshot.of_kind("ModelDeploymentPolicy"):
        mdp = policy.model
        assert isinstance(mdp, ModelDeploymentPolicy)
        if mdp.selects(spec.name, spec.spec.risk_level, spec.metadata.labels):
            out.append(policy)
    return out


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _protected(snapshot: Snapshot, model: Model, requirement: BiasDetection) -> tuple[str, ...]:
    if requirement.protected_attributes:
        return tuple(requirement.protected_attributes)
    name = model.spec.datasets.evaluation
    dataset = snapshot.resources.get(f"Dataset/{name}") if name else None
    if dataset is not None and isinstance(dataset.model, Dataset):
        return tuple(dataset.model.spec.protected_attributes)
    return ()


def _request(snapshot: Snapshot, model: Model, requirement: Requirement) -> EvidenceRequest:
    if isinstance(requirement, ExplainabilityReport):
        return EvidenceRequest("explainability", ExplainabilityConfig(format=requirement.format))
    if isinstance(requirement, BiasDetection):
        return EvidenceRequest(
            "fairness",
            FairnessConfig(
                attributes=_protected(snapshot, model, requirement),
                min_group_size=requirement.min_group_size,
            ),
        )
    if isinstance(requirement, DataDriftMonitoring):
        features = tuple(requirement.features) if requirement.features else None
        return EvidenceRequest("drift", DriftConfig(features=features))
    return EvidenceRequest("performance", PerformanceConfig())


def requests_for(
    snapshot: Snapshot, model: Resource, policies: Sequence[Resource]
) -> dict[tuple[str, int, int], EvidenceRequest]:
    """(policy index, requirement index) → evidence request, one per requirement."""
    spec = model.model
    assert isinstance(spec, Model)
    out = {}
    for p, policy in enumerate(policies):
        mdp = policy.model
        assert isinstance(mdp, ModelDeploymentPolicy)
        for r, requirement in enumerate(mdp.spec.requirements):
            out[(policy.name, p, r)] = _request(snapshot, spec, requirement)
    return out


@dataclass(frozen=True)
class _Context:
    model: Resource
    policy: Resource
    index: int

    def finding(self, requirement: str, message: str, details: dict[str, Any]) -> Finding:
        field = f"spec.requirements[{self.index}]"
        return Finding(
            rule=f"alignops.requirement.{self.policy.name}.{requirement}",
            resource=self.model.id,
            severity="deny",
            message=message,
            file=self.model.file,
            line=self.model.line,
            details={
                "policy": f"{self.policy.file}:{self.policy.line_of(field)}",
                **details,
            },
        )


def requirement_findings(
    model: Resource,
    policies: Sequence[Resource],
    bundle: EvidenceBundle,
    requests: dict[tuple[str, int, int], EvidenceRequest],
) -> list[Finding]:
    findings = []
    for (_, p, r), request in requests.items():
        policy = policies[p]
        mdp = policy.model
        assert isinstance(mdp, ModelDeploymentPolicy)
        requirement = mdp.spec.requirements[r]
        context = _Context(model, policy, r)
        evidence = bundle.items.get(request)
        name = _kebab(requirement.type)
        if evidence is None or evidence.metrics is None:
            error = evidence.error if evidence else "not computed"
            findings.append(
                context.finding(
                    name,
                    f"{requirement.type}: evidence could not be produced, so the requirement "
                    f"is not met: {error}",
                    {"evidenceKey": evidence.key if evidence else None},
                )
            )
            continue
        judge = _JUDGES[type(requirement)]
        for message, details in judge(requirement, evidence):
            findings.append(
                context.finding(name, message, {"evidenceKey": evidence.key, **details})
            )
    return findings


Judged = list[tuple[str, dict[str, Any]]]


def _judge_explainability(req: Any, evidence: Evidence) -> Judged:
    assert isinstance(req, ExplainabilityReport)
    m = evidence.metrics or {}
    report = "explainability.pdf" if req.format == "PDF" else "explainability.html"
    if report not in evidence.artifacts:
        return [(f"ExplainabilityReport: no {req.format} report was produced", {})]
    if not m.get("valid"):
        reasons = "; ".join(m.get("reasons", [])) or "invalid result"
        return [(f"explainability score is not valid: {reasons}", {"fidelity": m.get("fidelity")})]
    score = float(m["score"])
    if score < req.min_score:
        return [
            (
                f"explainability score {score:.3f} < minScore {req.min_score} (held-out fidelity "
                f"of a depth-{m['surrogate']['depth']} surrogate tree; see {report})",
                {"measured": score, "threshold": req.min_score},
            )
        ]
    return []


def _groups_text(groups: list[dict[str, Any]]) -> tuple[str, str]:
    gated = sorted((g for g in groups if g["gated"]), key=lambda g: -g["selectionRate"])
    small = [g for g in groups if not g["gated"]]
    parts = [f"{g['group']}: {g['selectionRate']:.3f} (n={g['size']:,})" for g in gated]
    skipped = ", ".join(f"{g['group']} (n={g['size']})" for g in small)
    return ", ".join(parts), skipped


def _judge_bias(req: Any, evidence: Evidence) -> Judged:
    assert isinstance(req, BiasDetection)
    m = evidence.metrics or {}
    out: Judged = []
    key = {
        "DemographicParity": "dpDifference",
        "DemographicParityRatio": "dpRatio",
        "EqualizedOdds": "eoDifference",
    }[req.metric]
    label = {
        "dpDifference": "demographic parity difference",
        "dpRatio": "demographic parity ratio",
        "eoDifference": "equalized odds difference",
    }[key]
    attributes = m.get("attributes", {})
    if not attributes:
        return [
            (
                "BiasDetection: no protected attributes to measure (set protectedAttributes "
                "on the policy or the evaluation Dataset)",
                {},
            )
        ]
    for attribute, result in attributes.items():
        if key not in result:
            out.append((f"{label} by {attribute} needs labelled evaluation data", {}))
            continue
        point = float(result[key])
        low, high = result["interval"][key]
        if key == "dpRatio":
            value = low if req.gate_on == "upperBound" else point
            disparity = 1.0 - value
        else:
            value = high if req.gate_on == "upperBound" else point
            disparity = value
        if disparity > req.max_disparity:
            rates, skipped = _groups_text(result.get("groups", []))
            shown = f"{value:.3f}" + (" (upper bound)" if req.gate_on == "upperBound" else "")
            bound = (
                f"ratio ≥ {1 - req.max_disparity:.2f}"
                if key == "dpRatio"
                else f"maxDisparity {req.max_disparity}"
            )
            confidence = int(m.get("confidence", 0.95) * 100)
            message = (
                f"{label} by {attribute} is {shown}, over {bound}; {confidence}% CI "
                f"{low:.3f}–{high:.3f}; selection rates {rates}"
            )
            if skipped:
                message += f"; not gated (under {m.get('minGroupSize')} rows): {skipped}"
            out.append(
                (
                    message,
                    {"attribute": attribute, "measured": value, "threshold": req.max_disparity},
                )
            )
    return out


def _judge_drift(req: Any, evidence: Evidence) -> Judged:
    assert isinstance(req, DataDriftMonitoring)
    m = evidence.metrics or {}
    drifted = {f: v for f, v in m.get("psi", {}).items() if v > req.threshold}
    if not drifted:
        return []
    listed = ", ".join(f"{f} {v:.3f}" for f, v in sorted(drifted.items(), key=lambda kv: -kv[1]))
    return [
        (
            f"data drift: PSI over threshold {req.threshold} for {listed} "
            f"({m.get('current')} vs reference {m.get('reference')})",
            {"measured": drifted, "threshold": req.threshold},
        )
    ]


def _judge_performance(req: Any, evidence: Evidence) -> Judged:
    assert isinstance(req, PerformanceThreshold)
    m = evidence.metrics or {}
    value = m.get(req.metric)
    if value is None:
        return [(f"{req.metric} is not available for this model ({m.get('task')})", {})]
    if req.min is not None and value < req.min:
        return [
            (f"{req.metric} {value:.4f} < min {req.min}", {"measured": value, "threshold": req.min})
        ]
    if req.max is not None and value > req.max:
        return [
            (f"{req.metric} {value:.4f} > max {req.max}", {"measured": value, "threshold": req.max})
        ]
    return []


_JUDGES: dict[type, Callable[[Any, Evidence], Judged]] = {
    ExplainabilityReport: _judge_explainability,
    BiasDetection: _judge_bias,
    DataDriftMonitoring: _judge_drift,
    PerformanceThreshold: _judge_performance,
}


def approval_findings(
    model: Resource,
    policies: Sequence[Resource],
    records: list[LoadedRecord],
    governance: Governance | None,
) -> tuple[list[Finding], dict[str, Any]]:
    spec = model.model
    assert isinstance(spec, Model)
    digest = policy_digest(policies)
    findings = []
    summary: dict[str, Any] = {"policyDigest": digest, "modelDigest": spec.spec.artifact.sha256}
    for policy in policies:
        mdp = policy.model
        assert isinstance(mdp, ModelDeploymentPolicy)
        workflow = mdp.spec.approval_workflow
        if workflow is None:
            continue
        outcome = check_approvals(
            records,
            model=spec.name,
            model_digest=spec.spec.artifact.sha256,
            policy_digest_value=digest,
            groups=workflow.groups,
            min_approvals=workflow.min_approvals,
            governance=governance,
        )
        summary[policy.name] = {
            "satisfied": outcome.satisfied,
            "counted": outcome.counted,
            "rejected": [{"record": p, "reason": r} for p, r in outcome.rejected],
        }
        if outcome.satisfied:
            continue
        have = ", ".join(f"{a} ({g})" for a, g in outcome.counted.items()) or "none"
        needs = []
        if outcome.missing_groups:
            needs.append(f"an approval from {' and '.join(outcome.missing_groups)}")
        if len(outcome.counted) < workflow.min_approvals:
            needs.append(f"{workflow.min_approvals} distinct approvers")
        message = f"approval missing: needs {', '.join(needs)}; counted: {have}"
        if outcome.rejected:
            message += "; not counted: " + "; ".join(f"{p}: {r}" for p, r in outcome.rejected)
        message += (
            f". Approve with: alignops approve {model.id} --key <ssh key> "
            f"(model {spec.spec.artifact.sha256[:12]}…, policies {digest[:12]}…)"
        )
        findings.append(
            Finding(
                rule=f"alignops.requirement.{policy.name}.approval",
                resource=model.id,
                severity="deny",
                message=message,
                file=model.file,
                line=model.line,
                details={
                    "policy": f"{policy.file}:{policy.line_of('spec.approvalWorkflow')}",
                    "counted": outcome.counted,
                    "rejected": [{"record": p, "reason": r} for p, r in outcome.rejected],
                },
            )
        )
    return findings, summary

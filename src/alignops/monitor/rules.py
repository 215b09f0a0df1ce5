"""Alert rules of an environment: from policy requirements and from ``AlertRule`` manifests.

For every ``ModelDeployment`` of the environment (as :func:`reconcile.desired_state`
sees it), every ``ModelDeploymentPolicy`` that selects one of the models it serves
gives one rule per requirement that can be watched on live traffic:

- ``DataDriftMonitoring`` → ``psi`` (the largest PSI over ``features``, or over every
  feature of the reference profile) ``>`` ``threshold``;
- ``BiasDetection`` (``DemographicParity``) → ``parity``: the largest demographic parity
  difference over the protected attributes ``>`` ``maxDisparity``, groups smaller than
  ``minGroupSize`` left out.

What cannot be watched on live traffic is listed with the reason (``monitor status``
shows it): ``PerformanceThreshold`` and ``EqualizedOdds`` need the true labels, which
requests do not carry; ``DemographicParityRatio`` is judged before deploy only.

Every ``AlertRule`` whose selector takes a deployment gives one more rule. Rule names
are ``<policy>/<requirement>`` (``high-risk-model-policy/data-drift-monitoring``) or
the ``AlertRule``'s name (which cannot hold a ``/``), so they never collide; with the
environment and the deployment they are the fingerprint of an alert (decision 0030).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from alignops.manifests.kinds import AlertRule, Dataset, Model, ModelDeploymentPolicy
from alignops.manifests.kinds.alertrule import ANOMALY_PREFIX, AnomalySettings
from alignops.manifests.kinds.policy import (
    BiasDetection,
    DataDriftMonitoring,
    PerformanceThreshold,
    Remediation,
)
from alignops.manifests.loader import Resource
from alignops.manifests.snapshot import Snapshot
from alignops.reconcile.desired import DesiredService, desired_state

__all__ = ["Op", "Rule", "RulePlan", "Unwatched", "plan_rules", "rules_for"]

Op = Literal[">", ">=", "<", "<="]

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Rule:
    """One thing to watch on one deployment of one environment."""

    name: str
    environment: str
    deployment: str
    """The ModelDeployment's name (as telemetry names it), not its resource id."""
    metric: str
    op: Op
    threshold: float
    severity: str
    targets: tuple[str, ...]
    remediation: Remediation
    source: str
    """``file:line`` of the requirement or the ``AlertRule``, for messages."""
    model: str = ""
    """The model the deployment serves (its main one, with a canary split)."""
    revision: str = ""
    """The config revision the rule was read from."""
    features: tuple[str, ...] | None = None
    attributes: tuple[str, ...] | None = None
    min_group_size: int = 100
    anomaly: AnomalySettings | None = None
    labels: tuple[tuple[str, str], ...] = field(default=())
    """The deployment's labels."""

    @property
    def fingerprint(self) -> str:
        """What identifies an alert of this rule: rule, environment, deployment."""
        return fingerprint(self.name, self.environment, self.deployment)

    @property
    def is_anomaly(self) -> bool:
        return self.metric.startswith(ANOMALY_PREFIX)

    @property
    def base_metric(self) -> str:
        """``p95`` for ``anomaly:p95``; the metric itself otherwise."""
        return self.metric.removeprefix(ANOMALY_PREFIX)

    def breaks(self, value: float) -> bool:
        """Whether ``value`` breaks the threshold (never for an anomaly rule: the
        anomaly scores decide those)."""
        return _COMPARE[self.op](value, self.threshold)

    def describe(self) -> str:
        """``psi > 0.1`` or ``anomaly:p95 (score ≥ 4)``."""
        if self.is_anomaly:
            return f"{self.metric} (score ≥ {self.threshold:g})"
        return f"{self.metric} {self.op} {self.threshold:g}"

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "name": self.name,
            "environment": self.environment,
            "deployment": self.deployment,
            "model": self.model,
            "metric": self.metric,
            "op": self.op,
            "threshold": self.threshold,
            "severity": self.severity,
            "targets": list(self.targets),
            "remediation": self.remediation.model_dump(mode="json", exclude_none=True),
            "source": self.source,
        }
        if self.features is not None:
            data["features"] = list(self.features)
        if self.attributes is not None:
            data["attributes"] = list(self.attributes)
            data["minGroupSize"] = self.min_group_size
        if self.anomaly is not None:
            data["anomaly"] = self.anomaly.model_dump(mode="json")
        return data


def fingerprint(rule: str, environment: str, deployment: str) -> str:
    return f"{rule}|{environment}|{deployment}"


@dataclass(frozen=True)
class Unwatched:
    """A requirement that applies to a deployment but cannot be judged on live traffic."""

    environment: str
    deployment: str
    requirement: str
    source: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {
            "environment": self.environment,
            "deployment": self.deployment,
            "requirement": self.requirement,
            "source": self.source,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RulePlan:
    """The rules of an environment at a revision, and what they leave unwatched."""

    environment: str
    revision: str
    rules: tuple[Rule, ...]
    unwatched: tuple[Unwatched, ...]
    deployments: tuple[str, ...]
    """Every ModelDeployment of the environment, watched or not."""


def rules_for(snapshot: Snapshot, environment: str) -> list[Rule]:
    """The rules of ``environment`` at ``snapshot`` (module docstring)."""
    return list(plan_rules(snapshot, environment).rules)


def plan_rules(snapshot: Snapshot, environment: str) -> RulePlan:
    """The rules of ``environment`` at ``snapshot`` and the requirements left unwatched.

    Raises :class:`ManifestError` if the environment is not in ``alignops.yaml``."""
    services = [
        s for s in desired_state(snapshot, environment).values() if s.kind == "ModelDeployment"
    ]
    rules: list[Rule] = []
    unwatched: list[Unwatched] = []
    for service in services:
        found, skipped = _policy_rules(snapshot, service)
        rules += found
        unwatched += skipped
        rules += _alert_rules(snapshot, service)
    return RulePlan(
        environment=environment,
        revision=snapshot.revision,
        rules=tuple(rules),
        unwatched=tuple(unwatched),
        deployments=tuple(_deployment(s) for s in services),
    )


def _deployment(service: DesiredService) -> str:
    return service.name.partition("/")[2]


def _models(snapshot: Snapshot, service: DesiredService) -> list[Resource]:
    return [snapshot.resources[f"Model/{m.name}"] for m in service.models]


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _policy_rules(
    snapshot: Snapshot, service: DesiredService
) -> tuple[list[Rule], list[Unwatched]]:
    models = [m.model for m in _models(snapshot, service)]
    rules: dict[str, Rule] = {}
    unwatched: list[Unwatched] = []
    for policy in snapshot.of_kind("ModelDeploymentPolicy"):
        mdp = policy.model
        assert isinstance(mdp, ModelDeploymentPolicy)
        selected = [
            m
            for m in models
            if isinstance(m, Model) and mdp.selects(m.name, m.spec.risk_level, m.metadata.labels)
        ]
        if not selected:
            continue
        kinds = [r.type for r in mdp.spec.requirements]
        for index, requirement in enumerate(mdp.spec.requirements):
            where = f"{policy.file}:{policy.line_of(f'spec.requirements[{index}]')}"
            name = f"{policy.name}/{_kebab(requirement.type)}"
            if kinds.count(requirement.type) > 1:
                name += f"-{kinds[: index + 1].count(requirement.type)}"
            base = _RequirementRule(snapshot, service, name, where)
            if isinstance(requirement, DataDriftMonitoring):
                features = tuple(requirement.features) if requirement.features else None
                rules[name] = base.rule(
                    requirement, "psi", requirement.threshold, features=features
                )
            elif isinstance(requirement, BiasDetection):
                if requirement.metric == "DemographicParity":
                    rules[name] = base.rule(
                        requirement,
                        "parity",
                        requirement.max_disparity,
                        attributes=_protected(snapshot, selected[0], requirement),
                        min_group_size=requirement.min_group_size,
                    )
                    continue
                why = (
                    "needs the true labels, which live requests do not carry"
                    if requirement.metric == "EqualizedOdds"
                    else "judged before deploy only; live traffic is watched for DemographicParity"
                )
                unwatched.append(base.unwatched(requirement.type, f"{requirement.metric}: {why}"))
            elif isinstance(requirement, PerformanceThreshold):
                unwatched.append(
                    base.unwatched(
                        requirement.type,
                        f"{requirement.metric} on live traffic needs the true labels, which "
                        "telemetry does not carry; it is judged before deploy only",
                    )
                )
    return list(rules.values()), unwatched


@dataclass(frozen=True)
class _RequirementRule:
    """What the rules of one requirement on one deployment share."""

    snapshot: Snapshot
    service: DesiredService
    name: str
    source: str

    def rule(
        self,
        requirement: DataDriftMonitoring | BiasDetection,
        metric: str,
        threshold: float,
        *,
        features: tuple[str, ...] | None = None,
        attributes: tuple[str, ...] | None = None,
        min_group_size: int = 100,
    ) -> Rule:
        models = _models(self.snapshot, self.service)
        return Rule(
            name=self.name,
            environment=self.service.environment,
            deployment=_deployment(self.service),
            metric=metric,
            op=">",
            threshold=threshold,
            severity=requirement.severity,
            targets=(requirement.alert_target,) if requirement.alert_target else (),
            remediation=requirement.remediation,
            source=self.source,
            model=models[0].name if models else "",
            revision=self.snapshot.revision,
            features=features,
            attributes=attributes,
            min_group_size=min_group_size,
            labels=self.service.labels,
        )

    def unwatched(self, requirement: str, reason: str) -> Unwatched:
        return Unwatched(
            self.service.environment, _deployment(self.service), requirement, self.source, reason
        )


def _protected(
    snapshot: Snapshot, model: Model, requirement: BiasDetection
) -> tuple[str, ...] | None:
    """The requirement's attributes, else the evaluation dataset's (as the gate does),
    else None: the reference profile's."""
    if requirement.protected_attributes:
        return tuple(requirement.protected_attributes)
    name = model.spec.datasets.evaluation
    dataset = snapshot.resources.get(f"Dataset/{name}") if name else None
    if dataset is not None and isinstance(dataset.model, Dataset):
        found = tuple(dataset.model.spec.protected_attributes)
        return found or None
    return None


def _alert_rules(snapshot: Snapshot, service: DesiredService) -> list[Rule]:
    deployment = _deployment(service)
    labels = dict(service.labels)
    models = _models(snapshot, service)
    main = models[0].model.name if models else ""
    rules = []
    for resource in snapshot.of_kind("AlertRule"):
        rule = resource.model
        assert isinstance(rule, AlertRule)
        spec = rule.spec
        if not spec.selector.selects(deployment, service.environment, labels):
            continue
        threshold = spec.threshold
        assert threshold is not None  # the kind's validator gives anomaly rules a default
        rules.append(
            Rule(
                name=rule.name,
                environment=service.environment,
                deployment=deployment,
                metric=spec.metric,
                op=spec.op,
                threshold=threshold,
                severity=spec.severity,
                targets=spec.targets,
                remediation=spec.remediation,
                source=f"{resource.file}:{resource.line}",
                model=main,
                revision=snapshot.revision,
                features=tuple(spec.features) if spec.features else None,
                attributes=tuple(spec.attributes) if spec.attributes else None,
                min_group_size=spec.min_group_size,
                anomaly=spec.anomaly_settings if spec.metric.startswith(ANOMALY_PREFIX) else None,
                labels=service.labels,
            )
        )
    return rules

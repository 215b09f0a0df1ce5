"""``ModelDeploymentPolicy``: responsible-AI requirements a model must meet to deploy."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from alignops.manifests.base import API_VERSION, Name, ResourceModel, RiskLevel, Spec, register_kind

__all__ = [
    "ApprovalWorkflow",
    "BiasDetection",
    "DataDriftMonitoring",
    "ExplainabilityReport",
    "ModelDeploymentPolicy",
    "ModelDeploymentPolicySpec",
    "PerformanceThreshold",
    "Remediation",
    "Requirement",
    "ScaleChange",
    "Selector",
    "Severity",
]


class ScaleChange(Spec):
    min_scale: int | None = Field(default=None, ge=0)
    max_scale: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_bound(self) -> ScaleChange:
        if self.min_scale is None and self.max_scale is None:
            raise ValueError("set minScale or maxScale")
        return self


class Remediation(Spec):
    """What to do when live traffic breaks the requirement (decision 0032)."""

    action: Literal["rollback", "retrain", "scale", "none"] = "none"
    automatic: bool = Field(
        default=False,
        description="the policy marks this remediation low-risk: done without asking; "
        "otherwise it is proposed on the alert and a person runs it",
    )
    scale: ScaleChange | None = None

    @model_validator(mode="after")
    def _scale_needs_values(self) -> Remediation:
        if self.action == "scale" and self.scale is None:
            raise ValueError("action scale needs scale.minScale or scale.maxScale")
        if self.action != "scale" and self.scale is not None:
            raise ValueError("scale is only used with action scale")
        return self


Severity = Literal["info", "warning", "critical"]


class ExplainabilityReport(Spec):
    type: Literal["ExplainabilityReport"]
    min_score: float = Field(ge=0, le=1, description="minimum explainability score")
    format: Literal["PDF", "HTML"] = "PDF"


class BiasDetection(Spec):
    type: Literal["BiasDetection"]
    max_disparity: float = Field(ge=0, le=1)
    metric: Literal["DemographicParity", "DemographicParityRatio", "EqualizedOdds"] = (
        "DemographicParity"
    )
    protected_attributes: list[str] | None = Field(
        default=None, description="defaults to the evaluation Dataset's protectedAttributes"
    )
    gate_on: Literal["point", "upperBound"] = "point"
    min_group_size: int = Field(
        default=100, ge=1, description="smaller groups are reported, not gated on"
    )
    alert_target: str | None = None
    severity: Severity = "warning"
    remediation: Remediation = Field(default_factory=Remediation)


class DataDriftMonitoring(Spec):
    type: Literal["DataDriftMonitoring"]
    threshold: float = Field(gt=0, description="maximum PSI per feature")
    alert_target: str | None = None
    features: list[str] | None = None
    severity: Severity = "warning"
    remediation: Remediation = Field(default_factory=Remediation)


class PerformanceThreshold(Spec):
    type: Literal["PerformanceThreshold"]
    metric: Literal["accuracy", "rocAuc", "f1", "rmse", "mae"]
    min: float | None = None
    max: float | None = None
    alert_target: str | None = None
    severity: Severity = "warning"
    remediation: Remediation = Field(default_factory=Remediation)

    @model_validator(mode="after")
    def _one_bound(self) -> PerformanceThreshold:
        if self.min is None and self.max is None:
            raise ValueError("set min or max")
        return self


Requirement = Annotated[
    ExplainabilityReport | BiasDetection | DataDriftMonitoring | PerformanceThreshold,
    Field(discriminator="type"),
]


class Selector(Spec):
    risk_level: RiskLevel | None = None
    match_labels: dict[str, str] = Field(default_factory=dict)


class ApprovalWorkflow(Spec):
    groups: list[str] = Field(min_length=1)
    min_approvals: int = Field(default=1, ge=1)


class ModelDeploymentPolicySpec(Spec):
    model_name: Name | None = None
    selector: Selector | None = None
    risk_level: RiskLevel | None = None
    requirements: list[Requirement] = Field(default_factory=list)
    approval_workflow: ApprovalWorkflow | None = None

    @model_validator(mode="after")
    def _selects_something(self) -> ModelDeploymentPolicySpec:
        if self.model_name is None and self.selector is None:
            raise ValueError("set modelName or selector")
        return self


@register_kind(
    "ModelDeploymentPolicy",
    # The second group is the one the product brief's examples are written with.
    api_versions=(API_VERSION, "policy.apexlogic.com/v1alpha1"),
)
class ModelDeploymentPolicy(ResourceModel):
    """Requirements (explainability, bias, drift, performance, approvals) for selected models."""

    kind: Literal["ModelDeploymentPolicy"]
    spec: ModelDeploymentPolicySpec

    def selects(self, name: str, risk_level: str | None, labels: dict[str, str]) -> bool:
        """Whether this policy applies to a model with this name, risk level and labels."""
        spec = self.spec
        if spec.model_name is not None:
            return spec.model_name == name
        selector = spec.selector
        assert selector is not None
        if selector.risk_level is not None and selector.risk_level != risk_level:
            return False
        return all(labels.get(k) == v for k, v in selector.match_labels.items())

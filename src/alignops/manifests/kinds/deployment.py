"""``ModelDeployment``: where and how a model version serves."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from alignops.manifests.base import Name, ResourceModel, Spec, register_kind

__all__ = ["ModelDeployment", "ModelDeploymentSpec", "Scaling", "TrafficSplit"]


class Scaling(Spec):
    min_scale: int = Field(default=0, ge=0)
    max_scale: int = Field(default=1, ge=1)
    idle_timeout_seconds: int = Field(default=300, ge=1)
    concurrency: int = Field(default=8, ge=1)

    @model_validator(mode="after")
    def _bounds(self) -> Scaling:
        if self.min_scale > self.max_scale:
            raise ValueError("minScale must not exceed maxScale")
        return self


class TrafficSplit(Spec):
    model: Name
    percent: int = Field(ge=0, le=100)


class ModelDeploymentSpec(Spec):
    model: Name = Field(description="name of the Model resource to serve")
    environment: Name
    target: Name | None = Field(
        default=None, description="target name from alignops.yaml; the environment's default"
    )
    memory: int = Field(default=512, ge=128, le=10240, description="memory limit in MB")
    timeout_seconds: int = Field(default=30, ge=1, le=900)
    scaling: Scaling = Field(default_factory=Scaling)
    traffic: list[TrafficSplit] = Field(
        default_factory=list, description="canary split between model versions; sums to 100"
    )

    @model_validator(mode="after")
    def _traffic_sums_to_100(self) -> ModelDeploymentSpec:
        if self.traffic and sum(t.percent for t in self.traffic) != 100:
            raise ValueError("traffic percentages must add up to 100")
        return self


@register_kind("ModelDeployment")
class ModelDeployment(ResourceModel):
    """A model served in an environment on a target: memory, timeout, scaling, canary split."""

    kind: Literal["ModelDeployment"]
    spec: ModelDeploymentSpec

    def references(self) -> list[tuple[str, str]]:
        refs = [("spec.model", f"Model/{self.spec.model}")]
        refs += [
            (f"spec.traffic[{i}].model", f"Model/{t.model}")
            for i, t in enumerate(self.spec.traffic)
        ]
        return refs

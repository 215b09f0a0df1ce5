"""``Model``: one version of a trained model and the artifact that holds it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from alignops.manifests.base import Name, ResourceModel, RiskLevel, Sha256, Spec, register_kind

__all__ = ["Artifact", "Model", "ModelDatasets", "ModelSpec"]


class Artifact(Spec):
    """Where the model file is and the digest it must have."""

    uri: str = Field(
        description="path in the config repository, or store://NAME for the local artifact store"
    )
    sha256: Sha256
    format: Literal["skops", "pickle", "joblib", "mlflow"] = "skops"
    trusted: bool = Field(
        default=False,
        description="allow pickle/joblib (loading them runs code); requires the pinned sha256",
    )
    trusted_types: list[str] = Field(
        default_factory=list,
        description="extra types a skops file may contain (module.Class), after review",
    )


class ModelDatasets(Spec):
    """Names of the Dataset resources this version was trained and evaluated on."""

    training: Name | None = None
    reference: Name | None = None
    evaluation: Name | None = None


class ModelSpec(Spec):
    version: str = Field(min_length=1)
    task: Literal["classification", "regression"] = "classification"
    artifact: Artifact
    risk_level: RiskLevel | None = None
    owner: str | None = None
    description: str | None = None
    datasets: ModelDatasets = Field(default_factory=ModelDatasets)
    features: list[str] = Field(default_factory=list)


@register_kind("Model")
class Model(ResourceModel):
    """A model version: artifact with digest, task, risk level, training and evaluation data."""

    kind: Literal["Model"]
    spec: ModelSpec

    def references(self) -> list[tuple[str, str]]:
        datasets = self.spec.datasets
        return [
            (f"spec.datasets.{role}", f"Dataset/{name}")
            for role, name in (
                ("training", datasets.training),
                ("reference", datasets.reference),
                ("evaluation", datasets.evaluation),
            )
            if name is not None
        ]

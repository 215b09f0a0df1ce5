"""``Dataset``: a data file the gate and the monitor read."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from alignops.manifests.base import RepoPath, ResourceModel, Sha256, Spec, register_kind

__all__ = ["Dataset", "DatasetSpec"]


class DatasetSpec(Spec):
    uri: RepoPath = Field(description="path of a Parquet or CSV file in the config repository")
    sha256: Sha256
    format: Literal["parquet", "csv"] | None = Field(
        default=None, description="inferred from the file extension when omitted"
    )
    role: Literal["training", "reference", "evaluation"]
    label: str | None = None
    protected_attributes: list[str] = Field(default_factory=list)
    features: list[str] = Field(default_factory=list)


@register_kind("Dataset")
class Dataset(ResourceModel):
    """A Parquet or CSV file with its digest, role, label and protected attributes."""

    kind: Literal["Dataset"]
    spec: DatasetSpec

"""``alignops.yaml``: the config repository's own settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from alignops.manifests.base import Name, RepoPath, Spec

__all__ = [
    "CONFIG_FILE",
    "Environment",
    "ManifestSettings",
    "PolicySettings",
    "PriceList",
    "RepoConfig",
    "Target",
]

CONFIG_FILE = "alignops.yaml"

RegoVersion = Literal["auto", "v0", "v1"]


class Environment(Spec):
    """A stage models are promoted through (staging, production) and its default target."""

    name: Name
    branch: str = "main"
    target: Name = Field(description="default target of this environment")
    auto_sync: bool = True
    auto_rollback: bool = Field(
        default=True,
        description="when a new version of a deployment never becomes healthy, commit the "
        "revert to its last compliant version",
    )
    drift: Literal["heal", "report"] = Field(
        default="heal",
        description="what a sync does with changes made outside Git (a killed service): "
        "heal them, or report them and leave them",
    )


class Target(Spec):
    """Where deployments run: the embedded local runtime, Kubernetes or AWS Lambda."""

    name: Name
    provider: Literal["local", "kubernetes", "lambda"]
    price_list: Name | None = None
    settings: dict[str, str | int | float | bool] = Field(default_factory=dict)


class PriceList(Spec):
    """Unit prices that turn metered usage into cost records."""

    name: Name
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    gb_second: Decimal = Field(default=Decimal("0"), ge=0)
    per_million_requests: Decimal = Field(default=Decimal("0"), ge=0)
    cpu_second: Decimal = Field(default=Decimal("0"), ge=0)


class PolicySettings(Spec):
    """Where Rego lives, which packages gate, and how Rego versions are decided."""

    paths: list[RepoPath] = Field(
        default_factory=lambda: ["policies"], description="folders holding .rego and data files"
    )
    namespaces: list[str] = Field(
        default_factory=list,
        description="Rego packages whose deny/violation/warn rules gate; empty means all",
    )
    rego_version: RegoVersion = Field(
        default="auto", description="v0, v1, or auto: detected per file, ambiguity refused"
    )
    file_rego_versions: dict[str, Literal["v0", "v1"]] = Field(
        default_factory=dict, description="glob → Rego version, overriding regoVersion"
    )


class ManifestSettings(Spec):
    """Which YAML files are manifests."""

    exclude: list[str] = Field(
        default_factory=list, description="globs of YAML files that are not manifests"
    )


class RepoConfig(Spec):
    """``alignops.yaml``: environments, targets, price lists, policy and manifest settings."""

    version: Literal[1] = 1
    environments: list[Environment] = Field(default_factory=list)
    targets: list[Target] = Field(default_factory=list)
    price_lists: list[PriceList] = Field(default_factory=list)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    manifests: ManifestSettings = Field(default_factory=ManifestSettings)

    def environment(self, name: str) -> Environment | None:
        return next((e for e in self.environments if e.name == name), None)

"""``alignops.yaml``: the config repository's own settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator

from alignops.manifests.base import Name, RepoPath, Spec
from alignops.manifests.kinds.alertroute import SecretRef

__all__ = [
    "CONFIG_FILE",
    "AllocationRule",
    "Environment",
    "FinopsSettings",
    "ManifestSettings",
    "MonitoringSettings",
    "NotificationSettings",
    "PolicySettings",
    "PriceList",
    "RepoConfig",
    "SmtpSettings",
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


class SmtpSettings(Spec):
    """The mail server ``mailto:`` alert routes send through."""

    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = Field(default="alignops@localhost", description="the From address")
    username: str | None = None
    password_ref: SecretRef | None = Field(
        default=None, description="where the SMTP password is kept (never in Git)"
    )
    starttls: bool = False
    timeout_seconds: float = Field(default=10.0, gt=0)


class NotificationSettings(Spec):
    """How alert and budget notifications are delivered (decision 0028)."""

    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    timeout_seconds: float = Field(default=10.0, gt=0, description="per HTTP attempt")
    max_attempts: int = Field(
        default=12, ge=1, description="attempts before a notification is reported as failed"
    )
    backoff_seconds: float = Field(
        default=2.0, gt=0, description="first retry delay; doubled after each failure"
    )
    links_base_url: str | None = Field(
        default=None, description="base URL of the alignops server, for links in messages"
    )


class MonitoringSettings(Spec):
    """How live traffic is windowed and watched (decisions 0029, 0030)."""

    window_seconds: int = Field(
        default=3600, ge=1, description="length of the tumbling windows telemetry is cut into"
    )
    min_requests: int = Field(
        default=100, ge=1, description="a window with fewer requests is shown, not judged"
    )


Dimension = Literal["model", "team", "env", "activity", "cost_center"]

_GOVERNED_TAGS: dict[Dimension, list[str]] = {
    "model": ["model", "alignops.model", "ml-model"],
    "team": ["team", "owner", "business_unit"],
    "env": ["env", "environment", "stage"],
    "activity": ["activity", "alignops.activity"],
    "cost_center": ["cost_center", "costcenter", "cost-center"],
}


def _governed_tags() -> dict[Dimension, list[str]]:
    return {k: list(v) for k, v in _GOVERNED_TAGS.items()}


class AllocationRule(Spec):
    """How costs that carry no value of a dimension (untagged) or a shared value are split
    over that dimension's values (decision 0035)."""

    dimension: Dimension
    shared_values: list[str] = Field(
        default_factory=list,
        description="values of the dimension that mean 'shared by all', e.g. shared, platform",
    )
    untagged: Literal["unallocated", "proportional", "even", "fixed"] = Field(
        default="unallocated",
        description="what happens to costs without a value: kept as unallocated, or split "
        "proportionally to the allocated costs, evenly, or by fixed shares",
    )
    shared: Literal["proportional", "even", "fixed"] = "proportional"
    split: dict[str, Decimal] = Field(
        default_factory=dict,
        description="fixed shares per value (percent, summing to 100) for 'fixed'",
    )


class FinopsSettings(Spec):
    """The cost ledger: where it lives, which tags are governed, how costs are allocated."""

    ledger: RepoPath | None = Field(
        default=None,
        description="DuckDB file of the ledger, relative to the repository; "
        "default .alignops/ledger.duckdb",
    )
    governed_tags: dict[Dimension, list[str]] = Field(
        default_factory=_governed_tags,
        description="tag keys (after trimming and case-folding) that give each dimension, "
        "first match wins; a dimension not named keeps its default keys",
    )
    allocation: list[AllocationRule] = Field(default_factory=list)

    @field_validator("governed_tags", mode="after")
    @classmethod
    def _keep_defaults(cls, given: dict[Dimension, list[str]]) -> dict[Dimension, list[str]]:
        merged = _governed_tags()
        merged.update({k: [key.strip().casefold() for key in v] for k, v in given.items()})
        return merged

    cost_metric: Literal["EffectiveCost", "BilledCost", "ListCost"] = Field(
        default="EffectiveCost", description="which FOCUS cost column reports and budgets use"
    )
    evidence_price_list: Name | None = Field(
        default=None,
        description="price list whose cpuSecond prices evidence jobs; default: the first "
        "environment's target's price list",
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
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    finops: FinopsSettings = Field(default_factory=FinopsSettings)

    def environment(self, name: str) -> Environment | None:
        return next((e for e in self.environments if e.name == name), None)

"""``AlertRule``: a threshold or an anomaly on a live metric of selected deployments.

``ModelDeploymentPolicy`` requirements already give rules for drift and fairness on
live traffic; an ``AlertRule`` is for anything else — latency, errors, cold starts,
cost rate — or for the same metrics with another threshold, severity or target
(decision 0030). Which metric names exist is fixed here, so a typo is refused with the
file, line and field rather than never firing.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from alignops.manifests.base import Name, ResourceModel, Spec, register_kind
from alignops.manifests.kinds.policy import Remediation, Severity

__all__ = [
    "ANOMALY_PREFIX",
    "METRICS",
    "SERVICE_METRICS",
    "AlertRule",
    "AlertRuleSelector",
    "AlertRuleSpec",
    "AnomalySettings",
    "check_alert_target",
]

SERVICE_METRICS = (
    "p50",
    "p95",
    "p99",
    "error_rate",
    "request_rate",
    "cold_start_rate",
    "cold_start_ms",
    "cost_rate",
)
"""Metrics of the service itself: latency quantiles (ms), errors per request, requests
per second, cold starts per request, mean cold start (ms), cost per hour."""
METRICS = ("psi", "parity", *SERVICE_METRICS)
"""Every metric a threshold rule may watch; ``anomaly:<m>`` for ``m`` in
:data:`SERVICE_METRICS` scores a service metric against its own seasonal baseline."""
ANOMALY_PREFIX = "anomaly:"
DEFAULT_ANOMALY_THRESHOLD = 4.0

# The shapes AlertRoute accepts as spec.target (alertroute.py), for alert targets.
_TARGET_RE = re.compile(r"^(slack://#[\w.-]+|webhooks?://\S+|mailto:[^@\s]+@[^@\s]+|log)$")


def check_alert_target(value: str) -> str:
    """An alert target as an ``AlertRoute`` would accept it, else a ``ValueError``."""
    if not _TARGET_RE.match(value):
        raise ValueError(
            f"alert target {value!r}: expected slack://#channel, webhook://host/path, "
            "mailto:user@host or log"
        )
    return value


class AlertRuleSelector(Spec):
    """Which deployments the rule watches: every condition given must hold."""

    deployments: list[Name] = Field(
        default_factory=list, description="ModelDeployment names; empty: every deployment"
    )
    environments: list[Name] = Field(
        default_factory=list, description="environment names; empty: every environment"
    )
    match_labels: dict[str, str] = Field(
        default_factory=dict, description="labels the ModelDeployment must carry"
    )

    def selects(self, deployment: str, environment: str, labels: dict[str, str]) -> bool:
        if self.deployments and deployment not in self.deployments:
            return False
        if self.environments and environment not in self.environments:
            return False
        return all(labels.get(k) == v for k, v in self.match_labels.items())


class AnomalySettings(Spec):
    """How an ``anomaly:<metric>`` rule scores its series of windows
    (:func:`alignops.anomaly.score_series`)."""

    season: int = Field(
        default=1, ge=1, description="windows per season (24 for a daily cycle of hourly windows)"
    )
    window: int = Field(
        default=28,
        ge=5,
        description="trailing windows the baseline looks at; at least 3 × season (and 5: "
        "the spread is learnt from the errors of the last 3 × window windows)",
    )
    min_change: float = Field(
        default=0.0, ge=0, description="smallest difference from the baseline worth an alert"
    )
    direction: Literal["up", "down", "both"] = "up"

    @field_validator("window")
    @classmethod
    def _three_seasons(cls, value: int, info: ValidationInfo) -> int:
        season = info.data.get("season")
        if season is not None and value < 3 * season:
            raise ValueError(f"must be at least 3 × season ({3 * season})")
        return value


class AlertRuleSpec(Spec):
    selector: AlertRuleSelector = Field(default_factory=AlertRuleSelector)
    metric: str = Field(
        description="psi, parity, p50, p95, p99, error_rate, request_rate, cold_start_rate, "
        "cold_start_ms, cost_rate, or anomaly:<one of the service metrics>"
    )
    op: Literal[">", ">=", "<", "<="] = ">"
    threshold: float | None = Field(
        default=None,
        validate_default=True,
        description="the value that breaks the rule; for anomaly:<m> the robust score "
        f"(default {DEFAULT_ANOMALY_THRESHOLD:g})",
    )
    features: list[str] | None = Field(
        default=None, description="psi: the features watched; default every reference feature"
    )
    attributes: list[str] | None = Field(
        default=None, description="parity: protected attributes; default the reference's"
    )
    min_group_size: int = Field(
        default=100, ge=1, description="parity: smaller groups are shown, not judged"
    )
    anomaly: AnomalySettings | None = None
    severity: Severity = "warning"
    alert_target: str | None = None
    alert_targets: list[str] = Field(default_factory=list)
    remediation: Remediation = Field(default_factory=Remediation)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value.startswith(ANOMALY_PREFIX):
            inner = value[len(ANOMALY_PREFIX) :]
            if inner not in SERVICE_METRICS:
                raise ValueError(
                    f"unknown metric {value!r}; anomaly: takes one of {', '.join(SERVICE_METRICS)}"
                )
            return value
        if value not in METRICS:
            raise ValueError(
                f"unknown metric {value!r}; expected one of {', '.join(METRICS)}, or "
                "anomaly:<service metric>"
            )
        return value

    @field_validator("threshold")
    @classmethod
    def _threshold_for_metric(cls, value: float | None, info: ValidationInfo) -> float | None:
        metric = info.data.get("metric")
        if metric is None:  # the metric itself was refused: one error is enough
            return value
        if str(metric).startswith(ANOMALY_PREFIX):
            value = DEFAULT_ANOMALY_THRESHOLD if value is None else value
            if value <= 0:
                raise ValueError("the anomaly score threshold must be more than 0")
            return value
        if value is None:
            raise ValueError(f"required for metric {metric!r}")
        return value

    @field_validator("alert_target")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        return None if value is None else check_alert_target(value)

    @field_validator("alert_targets")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        return [check_alert_target(v) for v in value]

    @field_validator("op")
    @classmethod
    def _op_for_threshold(cls, value: str, info: ValidationInfo) -> str:
        if str(info.data.get("metric", "")).startswith(ANOMALY_PREFIX):
            raise ValueError("not used with anomaly:<metric>; anomaly.direction says which way")
        return value

    @field_validator("features")
    @classmethod
    def _features_for_psi(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        return _only_for(value, info, "psi")

    @field_validator("attributes")
    @classmethod
    def _attributes_for_parity(
        cls, value: list[str] | None, info: ValidationInfo
    ) -> list[str] | None:
        return _only_for(value, info, "parity")

    @field_validator("anomaly")
    @classmethod
    def _anomaly_for_anomaly(
        cls, value: AnomalySettings | None, info: ValidationInfo
    ) -> AnomalySettings | None:
        metric = info.data.get("metric")
        if value is not None and metric is not None and not metric.startswith(ANOMALY_PREFIX):
            raise ValueError("only used with an anomaly:<metric> metric")
        return value

    @property
    def targets(self) -> tuple[str, ...]:
        """``alertTarget`` then ``alertTargets``, each once."""
        given = [self.alert_target] if self.alert_target else []
        return tuple(dict.fromkeys([*given, *self.alert_targets]))

    @property
    def anomaly_settings(self) -> AnomalySettings:
        return self.anomaly or AnomalySettings()


def _only_for(value: list[str] | None, info: ValidationInfo, metric: str) -> list[str] | None:
    given = info.data.get("metric")
    if value is not None and given is not None and given != metric:
        raise ValueError(f"only used with metric {metric}")
    return value


@register_kind("AlertRule")
class AlertRule(ResourceModel):
    """A threshold or anomaly rule on a live metric of selected deployments."""

    kind: Literal["AlertRule"]
    spec: AlertRuleSpec

    def references(self) -> list[tuple[str, str]]:
        return [
            (f"spec.selector.deployments[{i}]", f"ModelDeployment/{name}")
            for i, name in enumerate(self.spec.selector.deployments)
        ]

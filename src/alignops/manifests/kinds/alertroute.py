"""``AlertRoute``: where alerts go (Slack, signed webhook, e-mail, log) and how often."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from alignops.manifests.base import ResourceModel, Spec, register_kind

__all__ = ["AlertRoute", "AlertRouteSpec", "RateLimit", "RouteMatch", "SecretRef"]

_TARGET_RE = re.compile(r"^(slack://#[\w.-]+|webhooks?://\S+|mailto:[^@\s]+@[^@\s]+|log)$")


class SecretRef(Spec):
    """A secret kept outside Git: an environment variable or a file."""

    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    file: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("set exactly one of env or file")
        return self


class RouteMatch(Spec):
    severities: list[Literal["info", "warning", "critical"]] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)


class RateLimit(Spec):
    max_per_hour: int = Field(default=20, ge=1)


class AlertRouteSpec(Spec):
    target: str = Field(
        description="slack://#channel, webhook://host/path, mailto:user@host or log"
    )
    secret_ref: SecretRef | None = Field(
        default=None, description="Slack webhook URL, webhook HMAC key or SMTP password"
    )
    match: RouteMatch = Field(default_factory=RouteMatch)
    rate_limit: RateLimit = Field(default_factory=RateLimit)

    @field_validator("target")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not _TARGET_RE.match(value):
            raise ValueError(
                "expected slack://#channel, webhook://host/path, mailto:user@host or log"
            )
        return value


@register_kind("AlertRoute")
class AlertRoute(ResourceModel):
    """A destination for alerts with a secret reference, matching rules and a rate limit."""

    kind: Literal["AlertRoute"]
    spec: AlertRouteSpec

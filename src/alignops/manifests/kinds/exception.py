"""``Exception``: a waiver of named policy rules for named resources, until it expires."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from alignops.manifests.base import ResourceModel, Spec, register_kind

__all__ = ["PolicyException", "PolicyExceptionSpec"]


def _assume_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class PolicyExceptionSpec(Spec):
    rules: list[str] = Field(
        min_length=1, description="rule ids such as finops.policy.serverless.deny; * globs"
    )
    resources: list[str] = Field(min_length=1, description="Kind/name of waived resources; * globs")
    reason: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    expires_at: Annotated[datetime, AfterValidator(_assume_utc)] = Field(
        description="RFC 3339 time; without a zone it is UTC"
    )


@register_kind("Exception")
class PolicyException(ResourceModel):
    """A waiver: named rules stop denying named resources until expiresAt, with reason and owner."""

    kind: Literal["Exception"]
    spec: PolicyExceptionSpec

"""``ServerlessFunction``: a Python handler from the repository, served as a function."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from alignops.manifests.base import Name, ResourceModel, Spec, register_kind

__all__ = ["HANDLER_PATTERN", "ServerlessFunction", "ServerlessFunctionSpec"]

HANDLER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
"""``module:function``, the module a dotted name."""


class ServerlessFunctionSpec(Spec):
    handler: str = Field(
        pattern=HANDLER_PATTERN,
        description="module:function, the module relative to the repository root",
    )
    runtime: str = "python3.11"
    memory: int = Field(default=256, ge=128, le=10240, description="memory limit in MB")
    timeout_seconds: int = Field(default=30, ge=1, le=900)
    concurrency: int = Field(default=8, ge=1)
    environment: Name | None = None
    target: Name | None = None
    env: dict[str, str] = Field(default_factory=dict)


@register_kind("ServerlessFunction")
class ServerlessFunction(ResourceModel):
    """A Python handler (module:function) served with a memory limit, timeout and concurrency."""

    kind: Literal["ServerlessFunction"]
    spec: ServerlessFunctionSpec

"""What every manifest kind shares: the envelope, metadata, field types and the registry."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "API_VERSION",
    "KINDS",
    "KindInfo",
    "Metadata",
    "Name",
    "RepoPath",
    "ResourceModel",
    "RiskLevel",
    "Sha256",
    "Spec",
    "check_repo_path",
    "field_names",
    "register_kind",
]

API_VERSION = "alignops.dev/v1alpha1"

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def _check_name(value: str) -> str:
    if len(value) > 253 or not _NAME_RE.match(value):
        raise ValueError(
            "must be lower-case letters, digits, '-' or '.', start and end with a letter "
            "or digit, at most 253 characters"
        )
    return value


def check_repo_path(value: str) -> str:
    """A path inside the config repository: relative, '/'-separated, never escaping it."""
    if not value or "\\" in value or "\x00" in value:
        raise ValueError("must be a non-empty '/'-separated path")
    if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        raise ValueError(f"path {value!r} is absolute; paths are relative to the repository")
    normal = posixpath.normpath(value)
    if normal == ".." or normal.startswith("../"):
        raise ValueError(f"path {value!r} escapes the repository")
    return normal


Name = Annotated[str, AfterValidator(_check_name)]
"""A resource name: DNS-1123 subdomain, as in Kubernetes."""
RepoPath = Annotated[str, AfterValidator(check_repo_path)]
"""A path relative to the config repository root that stays inside it."""
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="lower-case hex SHA-256")]
RiskLevel = Literal["minimal", "low", "limited", "medium", "high", "unacceptable"]


class Spec(BaseModel):
    """Base of every manifest section: camelCase keys in YAML, unknown keys refused."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        serialize_by_alias=True,
    )


class Metadata(Spec):
    name: Name
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class ResourceModel(Spec):
    """The envelope of a manifest: ``apiVersion``, ``kind``, ``metadata``, ``spec``."""

    api_version: str
    kind: str
    metadata: Metadata

    kind_name: ClassVar[str] = ""

    @property
    def name(self) -> str:
        return self.metadata.name

    def references(self) -> list[tuple[str, str]]:
        """``(field, "Kind/name")`` pairs naming the resources this one refers to."""
        return []


@dataclass(frozen=True, slots=True)
class KindInfo:
    """A registered manifest kind."""

    name: str
    model: type[ResourceModel]
    api_versions: tuple[str, ...]
    summary: str


KINDS: dict[str, KindInfo] = {}
"""Every manifest kind by name, in registration order."""

_M = TypeVar("_M", bound=type[ResourceModel])


def register_kind(
    name: str, *, api_versions: tuple[str, ...] = (API_VERSION,)
) -> Callable[[_M], _M]:
    """Class decorator adding a kind to :data:`KINDS`."""

    def add(model: _M) -> _M:
        if name in KINDS:
            raise RuntimeError(f"kind {name!r} registered twice")
        doc = (model.__doc__ or "").strip().splitlines()
        model.kind_name = name
        KINDS[name] = KindInfo(name, model, api_versions, doc[0] if doc else name)
        return model

    return add


def field_names(model: type[BaseModel]) -> list[str]:
    """The YAML (alias) names of a model's fields."""
    return [f.alias or n for n, f in model.model_fields.items()]

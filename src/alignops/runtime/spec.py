"""``ServiceSpec``: everything one service process needs, handed over by the supervisor.

The supervisor writes it as JSON (camelCase keys, like manifests) and starts
``python -m alignops.runtime --spec spec.json``. The process reads nothing else: no
config repository, no database.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from alignops.errors import InputError
from alignops.manifests.base import Name, Sha256, Spec
from alignops.manifests.kinds.function import HANDLER_PATTERN

__all__ = ["ServedFunction", "ServedModel", "ServiceSpec", "TelemetrySettings", "load_spec"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ServedModel(Spec):
    """One model version behind the service and the share of traffic it gets."""

    name: Name
    version: str = Field(min_length=1)
    path: Path = Field(description="the model file on this machine")
    sha256: Sha256 = Field(description="the file's pinned digest; checked before loading")
    format: Literal["skops", "pickle", "joblib"] = "skops"
    trusted: bool = Field(default=False, description="allow pickle/joblib (loading them runs code)")
    trusted_types: list[str] = Field(
        default_factory=list, description="extra types the skops file may contain, after review"
    )
    features: list[str] = Field(
        default_factory=list,
        description="column order of the model's input; default: the names the model was "
        "fitted with (feature_names_in_)",
    )
    percent: int = Field(default=100, ge=0, le=100, description="share of requests, in %")
    batch: bool = Field(
        default=True,
        description="score the rows of requests waiting together in one model call; set "
        "false for a model whose answer for a row depends on the other rows",
    )


class ServedFunction(Spec):
    """The Python handler behind the service (a ``ServerlessFunction``)."""

    handler: str = Field(pattern=HANDLER_PATTERN, description="module:function")
    code_path: Path = Field(
        description="the folder on this machine holding the repository's code; put first "
        "on sys.path before the handler's module is imported"
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="set in the process's environment before the import"
    )

    @field_validator("env")
    @classmethod
    def _check_env(cls, env: dict[str, str]) -> dict[str, str]:
        bad = [name for name in env if not _ENV_NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"not an environment variable name: {', '.join(map(repr, bad))}")
        return env


class TelemetrySettings(Spec):
    """Where request records go and how often they are written."""

    directory: Path
    flush_seconds: float = Field(default=5.0, gt=0, le=300)
    max_batch_rows: int = Field(
        default=10_000, ge=1, description="write a segment early once this many are buffered"
    )
    buffer_limit: int = Field(
        default=200_000, ge=1, description="records held in memory at most; beyond, dropped"
    )


class ServiceSpec(Spec):
    """One deployment's service process: identity, limits, telemetry, and what it serves:
    ``models`` (a ``ModelDeployment``) or ``function`` (a ``ServerlessFunction``)."""

    deployment: Name
    environment: Name
    revision: str = Field(min_length=1, description="config-repo commit being served")
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    memory_mb: int = Field(ge=16, le=10240, description="memory limit (RSS) in MB")
    concurrency: int = Field(default=8, ge=1, le=1000, description="requests in flight at most")
    timeout_seconds: float = Field(default=30.0, gt=0, le=900)
    started_at: datetime | None = Field(
        default=None, description="when the supervisor started the process (for cold starts)"
    )
    max_batch_requests: int = Field(
        default=64, ge=1, description="requests scored by one model call at most"
    )
    memory_check_seconds: float = Field(default=0.05, gt=0, le=5)
    telemetry: TelemetrySettings
    models: Annotated[list[ServedModel], Field(min_length=1)] | None = None
    function: ServedFunction | None = None

    @model_validator(mode="after")
    def _check_served(self) -> ServiceSpec:
        if (self.models is None) == (self.function is None):
            raise ValueError(
                "give exactly one of models (a model deployment) or function (a handler)"
            )
        if self.models is None:
            return self
        if sum(m.percent for m in self.models) != 100:
            raise ValueError("models[*].percent must add up to 100")
        versions = [(m.name, m.version) for m in self.models]
        if len(set(versions)) != len(versions):
            raise ValueError("each model name and version may appear once")
        return self


def load_spec(path: Path) -> ServiceSpec:
    """The spec in a JSON file; an :class:`InputError` naming the file and fields if invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the service spec: {exc.strerror}") from None
    try:
        return ServiceSpec.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InputError(f"{path}: invalid service spec: {problems}") from None

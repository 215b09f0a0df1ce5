"""The desired state of an environment: every service a revision says should run there.

A ``ModelDeployment`` becomes one service serving its model (or the models of its canary
split); a ``ServerlessFunction`` one service running its handler. Everything that changes
how a service behaves is in its *settings*; their digest (``fingerprint``) is what a
provider records when it applies, so a commit that changes nothing about a service — a
README edit, another deployment — plans nothing for it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, Literal

from alignops.errors import ManifestError
from alignops.manifests.kinds import Model, ModelDeployment, ServerlessFunction
from alignops.manifests.snapshot import Snapshot

__all__ = ["DesiredModel", "DesiredService", "desired_state"]


@dataclass(frozen=True)
class DesiredModel:
    """One model version a service serves, and its share of the traffic."""

    name: str
    version: str
    uri: str
    sha256: str
    format: str
    trusted: bool
    trusted_types: tuple[str, ...]
    percent: int
    features: tuple[str, ...] = ()
    """Input columns in order (``spec.features``); empty: the names the model was fitted
    with."""


@dataclass(frozen=True)
class DesiredService:
    """One service an environment should run, as the revision declares it."""

    name: str
    """The resource id, ``ModelDeployment/<name>`` or ``ServerlessFunction/<name>``."""
    kind: Literal["ModelDeployment", "ServerlessFunction"]
    environment: str
    target: str
    provider: str
    revision: str
    file: str
    memory_mb: int
    timeout_seconds: int
    concurrency: int
    min_scale: int = 0
    max_scale: int = 1
    idle_timeout_seconds: int = 300
    models: tuple[DesiredModel, ...] = ()
    handler: str | None = None
    env: tuple[tuple[str, str], ...] = field(default=())
    labels: tuple[tuple[str, str], ...] = field(default=())

    def settings(self) -> dict[str, Any]:
        """What the service behaves by — everything but where it came from — in JSON
        shape (lists, not tuples), as a provider would store and report it."""
        result: dict[str, Any] = json.loads(self._settings_json)
        return result

    @cached_property
    def _settings_json(self) -> str:
        # Built field by field: ``dataclasses.asdict`` + a JSON round trip cost 0.25 ms a
        # service, a quarter of a no-op sync of 1,000 deployments.
        data: dict[str, Any] = {
            f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name not in _ORIGIN
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @cached_property
    def _fingerprint(self) -> str:
        return hashlib.sha256(self._settings_json.encode()).hexdigest()


_ORIGIN = frozenset(("name", "revision", "file", "labels"))
"""Fields that say where a service came from, not how it behaves."""


def _plain(value: Any) -> Any:
    """``value`` in JSON shape: tuples as lists, dataclasses as objects."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, DesiredModel):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


def desired_state(snapshot: Snapshot, environment: str) -> dict[str, DesiredService]:
    """The services ``environment`` should run at ``snapshot``, by resource id.

    A ``ServerlessFunction`` without ``spec.environment`` runs in every environment.
    Raises :class:`ManifestError` if the environment is not in ``alignops.yaml``.
    """
    config = snapshot.config
    environments = {e.name: e for e in config.environments}
    if environment not in environments:
        known = ", ".join(sorted(environments)) or "none"
        raise ManifestError.single(
            "alignops.yaml", f"no environment {environment!r} (defined: {known})", line=1
        )
    providers = {t.name: t.provider for t in config.targets}
    default_target = environments[environment].target
    out: dict[str, DesiredService] = {}
    for resource in snapshot.resources.values():
        manifest = resource.model
        if isinstance(manifest, ModelDeployment):
            spec = manifest.spec
            if spec.environment != environment:
                continue
            shares = [(t.model, t.percent) for t in spec.traffic] or [(spec.model, 100)]
            kind_fields: dict[str, Any] = {
                "kind": "ModelDeployment",
                "target": spec.target or default_target,
                "memory_mb": spec.memory,
                "timeout_seconds": spec.timeout_seconds,
                "concurrency": spec.scaling.concurrency,
                "min_scale": spec.scaling.min_scale,
                "max_scale": spec.scaling.max_scale,
                "idle_timeout_seconds": spec.scaling.idle_timeout_seconds,
                "models": tuple(_model(snapshot, name, percent) for name, percent in shares),
            }
        elif isinstance(manifest, ServerlessFunction):
            spec_f = manifest.spec
            if spec_f.environment not in (None, environment):
                continue
            kind_fields = {
                "kind": "ServerlessFunction",
                "target": spec_f.target or default_target,
                "memory_mb": spec_f.memory,
                "timeout_seconds": spec_f.timeout_seconds,
                "concurrency": spec_f.concurrency,
                "handler": spec_f.handler,
                "env": _sorted(spec_f.env),
            }
        else:
            continue
        out[resource.id] = DesiredService(
            name=resource.id,
            environment=environment,
            provider=providers.get(kind_fields["target"], "local"),
            revision=snapshot.revision,
            file=resource.file,
            labels=_sorted(manifest.metadata.labels),
            **kind_fields,
        )
    return dict(sorted(out.items()))


def _model(snapshot: Snapshot, name: str, percent: int) -> DesiredModel:
    # References were checked when the snapshot was built: the Model exists.
    model = snapshot.resources[f"Model/{name}"].model
    assert isinstance(model, Model)
    artifact = model.spec.artifact
    return DesiredModel(
        name=name,
        version=model.spec.version,
        uri=artifact.uri,
        sha256=artifact.sha256,
        format=artifact.format,
        trusted=artifact.trusted,
        trusted_types=tuple(artifact.trusted_types),
        percent=percent,
        features=tuple(model.spec.features),
    )


def _sorted(mapping: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(mapping.items()))

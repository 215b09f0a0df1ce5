"""The provider contract: what the reconciler needs from a target, and the registry.

A provider runs services on one kind of target (``local`` processes, later Kubernetes
objects or Lambda functions). The reconciler only ever calls:

- :meth:`Provider.live` — what runs in an environment, as :class:`LiveService`;
- :meth:`Provider.supports` — whether it can run a desired service at all (a reason if
  not: planned, reported, never faked);
- :meth:`Provider.apply` — create or update one service so that it runs as desired;
  idempotent: applying what already runs changes nothing;
- :meth:`Provider.delete` — stop one service;
- :meth:`Provider.tidy` — finish what an interrupted run left behind (a second instance
  of a service, an instance half started or half stopped);
- :meth:`Provider.health` — whether services answer as they should.

Failures are :class:`~alignops.errors.ProviderError` (the target failed) or
:class:`~alignops.errors.ReconcileError` (the service cannot run as declared); the
reconciler records them per service and goes on with the others.

``alignops.yaml`` picks the provider of a target by name (``provider: local``); each
registry entry declares the schema of its ``settings``.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ValidationError

from alignops.errors import ManifestError, Problem, UsageError
from alignops.manifests.config import CONFIG_FILE, Target
from alignops.manifests.snapshot import Snapshot
from alignops.reconcile.desired import DesiredService
from alignops.reconcile.plan import Action, LiveService
from alignops.store.db import Database

__all__ = [
    "PROVIDERS",
    "Applied",
    "ApplyContext",
    "Health",
    "Provider",
    "ProviderContext",
    "ProviderFactory",
    "open_provider",
    "parse_settings",
    "register",
    "settings_schema",
    "unsupported_reason",
]

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Health:
    """Whether a service answers as it should, why not, and what was observed."""

    ok: bool
    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "reason": self.reason, "details": dict(self.details)}


@dataclass(frozen=True)
class Applied:
    """What applying one action (or deleting, or tidying) did."""

    verb: Literal["create", "update", "delete", "tidy"]
    name: str
    changed: bool
    """False when the target was already as desired (nothing started or stopped)."""
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.verb,
            "service": self.name,
            "changed": self.changed,
            "message": self.message,
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class ProviderContext:
    """What every provider may use: the state folder and database, a progress line."""

    state_dir: Path
    """``.alignops`` of the config repository's working tree."""
    database: Database
    progress: Progress = _quiet


@dataclass(frozen=True)
class ApplyContext:
    """What one apply needs beyond the action: the revision's files, the environment."""

    snapshot: Snapshot
    environment: str


class Provider(ABC):
    """One target's way of running services (see the module docstring)."""

    key: ClassVar[str]
    """Registry key, the ``provider`` of a target in ``alignops.yaml``."""

    def __init__(self, target: Target, context: ProviderContext) -> None:
        self.target = target
        self.context = context

    def supports(self, service: DesiredService) -> str | None:
        """None if this provider can run ``service``, else why not (for the plan)."""
        return None

    @contextlib.contextmanager
    def lock(self, environment: str) -> Iterator[None]:
        """Held from reading live state to the end of a sync, so two syncs of the same
        target do not interleave."""
        yield

    @abstractmethod
    def live(self, environment: str) -> dict[str, LiveService]:
        """The services of ``environment`` running on this target now, by resource id."""

    @abstractmethod
    def apply(self, action: Action, context: ApplyContext) -> Applied:
        """Create or update ``action.desired``; the previous version keeps serving until
        the new one is healthy. Idempotent."""

    @abstractmethod
    def delete(self, name: str, environment: str) -> Applied:
        """Stop a service and forget it."""

    def tidy(self, environment: str) -> list[Applied]:
        """Stop what an interrupted apply or delete left behind; what was done."""
        return []

    @abstractmethod
    def health(self, environment: str, names: Sequence[str]) -> dict[str, Health]:
        """Ask services of ``environment`` how they are, all in one call (a provider may
        answer many from one request to its target)."""


ProviderFactory = Callable[[Target, ProviderContext], Provider]


PROVIDERS: dict[str, ProviderFactory] = {}
"""Provider key → factory; built-in: ``local``."""
_SETTINGS: dict[str, type[BaseModel]] = {}


def register(key: str, *, settings: type[BaseModel]) -> Callable[[type[Provider]], type[Provider]]:
    """Class decorator: ``@register("local", settings=LocalSettings)``."""

    def add(cls: type[Provider]) -> type[Provider]:
        cls.key = key
        PROVIDERS[key] = cls
        _SETTINGS[key] = settings
        return cls

    return add


def settings_schema(key: str) -> type[BaseModel]:
    """The schema of a provider's ``settings`` in ``alignops.yaml``."""
    return _SETTINGS[key]


def parse_settings(target: Target, model: type[BaseModel]) -> Any:
    """A target's ``settings`` validated against its provider's schema."""
    try:
        return model.model_validate(dict(target.settings))
    except ValidationError as exc:
        problems = [
            Problem(
                CONFIG_FILE,
                err["msg"],
                field=f"targets[{target.name}].settings."
                + ".".join(str(p) for p in err["loc"] if p != "__root__"),
            )
            for err in exc.errors()
        ]
        raise ManifestError(
            f"target {target.name!r}: invalid settings for provider {target.provider!r}",
            problems=problems,
        ) from None


def open_provider(target: Target, context: ProviderContext) -> Provider:
    """The provider a target names; a :class:`UsageError` if it is not built yet."""
    factory = PROVIDERS.get(target.provider)
    if factory is None:
        built = ", ".join(sorted(PROVIDERS)) or "none"
        raise UsageError(
            f"target {target.name!r}: provider {target.provider!r} is not built yet "
            f"(available: {built})"
        )
    return factory(target, context)


def unsupported_reason(targets: Mapping[str, Target], service: DesiredService) -> str | None:
    """Why no provider can run ``service`` (unknown target, provider not built), or None."""
    target = targets.get(service.target)
    if target is None:
        return f"target {service.target!r} is not defined in {CONFIG_FILE}"
    if target.provider not in PROVIDERS:
        return f"provider {target.provider!r} (target {target.name!r}) is not built yet"
    return None

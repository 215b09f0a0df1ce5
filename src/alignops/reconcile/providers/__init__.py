"""Providers: how services run on a kind of target, behind one contract.

``PROVIDERS`` maps the ``provider`` of a target in ``alignops.yaml`` to a factory; the
built-in one is ``local`` (processes on this machine). Kubernetes and Lambda are not
built yet: a target naming them is reported, never half-applied.
"""

from alignops.reconcile.providers import local as _local  # noqa: F401 - registers "local"
from alignops.reconcile.providers.base import (
    PROVIDERS,
    Applied,
    ApplyContext,
    Health,
    Provider,
    ProviderContext,
    ProviderFactory,
    open_provider,
    register,
    settings_schema,
    unsupported_reason,
)
from alignops.reconcile.providers.local import LocalProvider, LocalSettings
from alignops.runtime import processes

__all__ = [
    "PROVIDERS",
    "Applied",
    "ApplyContext",
    "Health",
    "LocalProvider",
    "LocalSettings",
    "Provider",
    "ProviderContext",
    "ProviderFactory",
    "open_provider",
    "processes",
    "register",
    "settings_schema",
    "unsupported_reason",
]

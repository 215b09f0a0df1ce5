"""Which price list applies to a service's usage: the one of its target *at the revision
that ran*, so a later change of prices never re-prices what already ran.

service → ``spec.target`` or its environment's default target → ``priceList`` →
``priceLists[]`` of that revision's ``alignops.yaml``. A target without a price list
prices usage at zero, with a note saying why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from alignops.errors import ManifestError, SourceError
from alignops.manifests.config import PriceList
from alignops.manifests.kinds import ModelDeployment, ServerlessFunction
from alignops.manifests.snapshot import Snapshot

__all__ = ["PriceBook", "Pricing", "Snapshots"]


class Snapshots(Protocol):
    """Where revisions come from (a :class:`alignops.source.ConfigRepository`)."""

    def snapshot(self, revision: str) -> Snapshot: ...


@dataclass(frozen=True)
class Pricing:
    """How one service's usage at one revision is priced."""

    resource_id: str
    """``ModelDeployment/<name>`` (or ``ServerlessFunction/<name>``)."""
    target: str | None
    price_list: PriceList | None
    labels: Mapping[str, str] = field(default_factory=dict)
    note: str | None = None
    """Why the usage is not priced (None when ``price_list`` is set)."""


class PriceBook:
    """Pricing per (service, environment, revision); one snapshot read per revision."""

    def __init__(self, snapshots: Snapshots) -> None:
        self._snapshots = snapshots
        self._cache: dict[str, Snapshot] = {}

    def pricing(self, deployment: str, environment: str, revision: str, *, seen_in: str) -> Pricing:
        """Pricing of ``deployment``'s usage in ``environment`` at ``revision``.

        Raises :class:`SourceError` if the revision is not in the repository and
        :class:`ManifestError` if its ``alignops.yaml`` or manifests do not load —
        ``seen_in`` (a segment) says which telemetry named it."""
        snapshot = self._snapshot(revision, seen_in)
        short = revision[:12]
        resource = None
        for kind in ("ModelDeployment", "ServerlessFunction"):
            resource = snapshot.resources.get(f"{kind}/{deployment}")
            if resource is not None:
                break
        if resource is None:
            return Pricing(
                f"ModelDeployment/{deployment}",
                None,
                None,
                note=f"{deployment} is not declared at revision {short}",
            )
        manifest = resource.model
        assert isinstance(manifest, ModelDeployment | ServerlessFunction)
        labels = dict(manifest.metadata.labels)
        env = snapshot.config.environment(environment)
        target = manifest.spec.target or (env.target if env is not None else None)
        if target is None:
            note = f"environment {environment!r} is not in alignops.yaml at revision {short}"
            return Pricing(resource.id, None, None, labels, note)
        found = next((t for t in snapshot.config.targets if t.name == target), None)
        if found is None or found.price_list is None:
            note = f"target {target!r} has no price list at revision {short}"
            return Pricing(resource.id, target, None, labels, note)
        prices = {p.name: p for p in snapshot.config.price_lists}
        return Pricing(resource.id, target, prices[found.price_list], labels)

    def _snapshot(self, revision: str, seen_in: str) -> Snapshot:
        if revision not in self._cache:
            try:
                self._cache[revision] = self._snapshots.snapshot(revision)
            except SourceError as exc:
                raise SourceError(
                    f"{seen_in}: ran revision {revision}, which cannot be read: {exc}; "
                    "fetch it into the config repository, then meter again"
                ) from None
            except ManifestError as exc:
                raise ManifestError(
                    f"{seen_in}: ran revision {revision[:12]}, whose manifests do not load, "
                    "so its usage cannot be priced:",
                    problems=exc.problems,
                ) from None
        return self._cache[revision]

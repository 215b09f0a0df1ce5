"""The reference a deployment's live traffic is compared with, per revision that ran.

For (deployment, revision): the deployment's model in the snapshot of that revision
(``ModelDeployment.spec.model``; with a canary split, still that model — the split's
other versions are compared with the same reference), then

1. the drift evidence the revision was gated on (``EvidenceStore.revision_index``): the
   result of the ``drift`` check for that model holds ``referenceProfile``, the bins
   fixed from the reference data (with several, the one of most features); else
2. the profile built now from the model's ``reference`` (else ``training``) Dataset file
   at that revision, with :meth:`Profile.build` over the model's ``spec.features`` (else
   the Dataset's) — the same call the drift check makes, so the bins are the same.

Protected attributes are the ``protectedAttributes`` of the model's Datasets
(evaluation first, then reference and training). The positive label is the larger label
of the reference data (the gate's rule, ``as_positive``) when that data was read;
otherwise it is left to the model's ``classes`` in its answers.

A revision that cannot be read, a deployment or model that is not declared, data that
cannot be loaded: the reference has no profile and says why (``problem``); windows of
that deployment still count requests, errors, latency and cold starts. Results are
cached per (deployment, revision) for the life of the object.
"""

from __future__ import annotations

from dataclasses import dataclass

from alignops.errors import EvidenceError, ManifestError, SourceError
from alignops.evidence.profile import Profile
from alignops.evidence.store import EvidenceStore
from alignops.manifests.kinds import Dataset, Model, ModelDeployment
from alignops.manifests.loader import Resource
from alignops.manifests.snapshot import Snapshot
from alignops.metering.prices import Snapshots

__all__ = ["Reference", "ReferenceProfiles"]


@dataclass(frozen=True)
class Reference:
    """What a deployment's live traffic at one revision is compared with."""

    deployment: str
    revision: str
    model: str | None
    profile: Profile | None
    """Bins (and reference counts) of every monitored feature; None: no reference."""
    protected: tuple[str, ...] = ()
    """Protected attributes whose groups' selection rates are counted."""
    positive: str | None = None
    """The positive label as text (``"1"``), when known from the reference data."""
    source: str | None = None
    """Where the profile came from, for people: ``evidence 3f2a9c1d0e4b (drift …)``."""
    problem: str | None = None
    """Why there is no profile (None when there is one)."""


class ReferenceProfiles:
    """References per (deployment, revision), read from the config repository and the
    evidence store once each."""

    def __init__(self, snapshots: Snapshots, *, evidence: EvidenceStore | None = None) -> None:
        self._snapshots = snapshots
        self._evidence = evidence
        self._cache: dict[tuple[str, str], Reference] = {}

    def get(self, deployment: str, revision: str) -> Reference:
        key = (deployment, revision)
        if key not in self._cache:
            self._cache[key] = self._find(deployment, revision)
        return self._cache[key]

    # -- finding ---------------------------------------------------------------------------

    def _find(self, deployment: str, revision: str) -> Reference:
        short = revision[:12]

        def missing(problem: str, model: str | None = None) -> Reference:
            return Reference(deployment, revision, model, None, problem=problem)

        try:
            snapshot = self._snapshots.snapshot(revision)
        except (SourceError, ManifestError) as exc:
            return missing(f"revision {short} cannot be read: {exc}")
        resource = snapshot.resources.get(f"ModelDeployment/{deployment}")
        if resource is None:
            if f"ServerlessFunction/{deployment}" in snapshot.resources:
                return missing(f"{deployment} is a ServerlessFunction: it serves no model")
            return missing(f"{deployment} is not declared at revision {short}")
        manifest = resource.model
        assert isinstance(manifest, ModelDeployment)
        model_name = manifest.spec.model
        model_resource = snapshot.resources.get(f"Model/{model_name}")
        if model_resource is None:
            return missing(f"model {model_name} is not declared at revision {short}", model_name)
        model = model_resource.model
        assert isinstance(model, Model)
        # Selection rates are a classifier's; a regressor's groups are not counted.
        protected = (
            _protected_attributes(snapshot, model) if model.spec.task == "classification" else ()
        )
        stored = self._from_evidence(model_name, revision)
        if stored is not None:
            profile, source = stored
            return Reference(deployment, revision, model_name, profile, protected, None, source)
        built = _from_dataset(snapshot, model_resource)
        if isinstance(built, str):
            return Reference(deployment, revision, model_name, None, protected, problem=built)
        profile, positive, source = built
        return Reference(deployment, revision, model_name, profile, protected, positive, source)

    def _from_evidence(self, model: str, revision: str) -> tuple[Profile, str] | None:
        """The reference profile of the drift evidence ``revision`` was gated on."""
        if self._evidence is None:
            return None
        index = self._evidence.revision_index(revision) or []
        found: list[tuple[Profile, str]] = []
        for entry in index:
            if entry.get("model") != model or entry.get("check") != "drift":
                continue
            key = str(entry.get("key", ""))
            stored = self._evidence.get(key)
            metrics = (stored.result.get("metrics") or {}) if stored is not None else {}
            data = metrics.get("referenceProfile")
            if data is None:
                continue
            try:
                profile = Profile.from_dict(data)
            except ValueError:
                continue  # a damaged result: fall back to the data
            found.append((profile, f"evidence {key[:12]} (drift of {model} at {revision[:12]})"))
        if not found:
            return None
        return max(found, key=lambda item: len(item[0].features))


def _datasets(snapshot: Snapshot, model: Model) -> list[Dataset]:
    names = model.spec.datasets
    out: list[Dataset] = []
    for name in (names.evaluation, names.reference, names.training):
        resource = snapshot.resources.get(f"Dataset/{name}") if name else None
        if resource is not None and isinstance(resource.model, Dataset):
            out.append(resource.model)
    return out


def _protected_attributes(snapshot: Snapshot, model: Model) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for dataset in _datasets(snapshot, model):
        for attribute in dataset.spec.protected_attributes:
            seen.setdefault(attribute, None)
    return tuple(seen)


def _from_dataset(
    snapshot: Snapshot, model_resource: Resource
) -> tuple[Profile, str | None, str] | str:
    """(profile, positive label, source) from the model's reference data, or why not."""
    from alignops.evidence.artifacts import load_dataset

    model = model_resource.model
    assert isinstance(model, Model)
    short = snapshot.revision[:12]
    name = model.spec.datasets.reference or model.spec.datasets.training
    if name is None:
        return f"model {model.name} names no reference or training dataset"
    resource = snapshot.resources.get(f"Dataset/{name}")
    if resource is None:
        return f"dataset {name} of model {model.name} is not declared at revision {short}"
    try:
        data = load_dataset(snapshot, resource)
    except EvidenceError as exc:
        return f"reference data cannot be read: {exc}"
    features = list(model.spec.features or data.features)
    if not features:
        return (
            f"{model_resource.file}:{model_resource.line_of('spec')}: cannot tell which "
            f"columns model {model.name} reads; list them in spec.features"
        )
    missing = [f for f in features if f not in data.frame.columns]
    if missing:
        return f"dataset {name} lacks the model's features: {', '.join(missing)}"
    try:
        profile = Profile.build(data.frame[features], features)
    except ValueError as exc:
        return f"dataset {name}: {exc}"
    positive = None
    if data.label and data.label in data.frame.columns:
        import numpy as np

        try:
            labels = np.unique(data.frame[data.label].dropna().to_numpy())
        except TypeError:  # labels of mixed types: left to the model's classes
            labels = np.array([])
        if len(labels):
            positive = str(labels.max())
    return profile, positive, f"dataset {name} at {short}"

"""Collect evidence for a model: from the store when its key is known, else computed.

The key is derived from the digests pinned in the manifests, so a cache hit needs no
model loading — only the pinned digests are verified against the files (a hash of a few
megabytes). A miss loads the model and data once, runs the requested checks, records
their CPU and wall time as usage tagged with the model and the responsible-AI activity,
and stores the results.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from alignops._version import __version__
from alignops.errors import EvidenceError
from alignops.evidence.artifacts import load_dataset, load_model
from alignops.evidence.checks import CHECKS, EvidenceInputs
from alignops.evidence.checks.base import CheckConfig
from alignops.evidence.store import EvidenceStore
from alignops.evidence.usage import UsageRecord
from alignops.manifests.kinds import Dataset, Model
from alignops.manifests.loader import Resource
from alignops.manifests.snapshot import Snapshot

__all__ = ["Evidence", "EvidenceBundle", "EvidenceRequest", "collect"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class EvidenceRequest:
    check: str
    config: CheckConfig


@dataclass(frozen=True)
class Evidence:
    """One check's outcome for one model."""

    check: str
    key: str
    metrics: dict[str, Any] | None
    error: str | None = None
    cached: bool = False
    artifacts: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "key": self.key,
            "cached": self.cached,
            "error": self.error,
            "artifacts": list(self.artifacts),
            "metrics": self.metrics,
        }


@dataclass
class EvidenceBundle:
    """Every check's evidence for one model, and what computing it cost."""

    model: str
    model_digest: str
    items: dict[EvidenceRequest, Evidence] = field(default_factory=dict)
    usage: list[UsageRecord] = field(default_factory=list)

    def for_policies(self) -> dict[str, Any]:
        """The numbers Rego policies see under ``data.alignops.evidence[<model>]``."""
        out: dict[str, Any] = {}
        for item in self.items.values():
            name = item.check
            if name in out:
                continue
            metrics = dict(item.metrics or {})
            metrics.pop("referenceProfile", None)
            surrogate = metrics.get("surrogate")
            if isinstance(surrogate, dict):
                metrics["surrogate"] = {k: v for k, v in surrogate.items() if k != "text"}
            out[name] = {"error": item.error, **metrics}
        return out


def _versions() -> dict[str, str]:
    out = {"alignops": __version__}
    for package in ("scikit-learn", "shap", "numpy", "pandas"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "-"
    return out


_VERSIONS: dict[str, str] | None = None


def evidence_key(request: EvidenceRequest, inputs: dict[str, Any]) -> str:
    global _VERSIONS
    if _VERSIONS is None:
        _VERSIONS = _versions()
    material = {
        "check": request.check,
        "config": request.config.model_dump(mode="json"),
        "inputs": inputs,
        "versions": _VERSIONS,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _verify_pinned(
    snapshot: Snapshot,
    resource: Resource,
    path: str,
    pinned: str,
    field_path: str,
    store: EvidenceStore,
) -> None:
    """Cheap digest check for cache hits: a file is hashed once per blob id."""
    oid = snapshot.files.get(path)
    if oid is None:
        return  # folders and artifact-store files are verified when loaded
    digest = store.verified_sha256(oid)
    if digest is None:
        digest = hashlib.sha256(snapshot.read(path)).hexdigest()
        store.remember_sha256(oid, digest)
    if digest != pinned:
        raise EvidenceError(
            f"{resource.file}:{resource.line_of(field_path)}: {path} has sha256 {digest}, but "
            f"the manifest pins {pinned}; refusing to use it"
        )


def collect(
    snapshot: Snapshot,
    model_resource: Resource,
    requests: Sequence[EvidenceRequest],
    *,
    store: EvidenceStore,
    progress: Progress | None = None,
    compute: bool = True,
    refresh: bool = False,
) -> EvidenceBundle:
    """Evidence of ``requests`` for one model: stored results, else computed (unless
    ``compute`` is false); ``refresh`` recomputes even what is stored."""
    model = model_resource.model
    assert isinstance(model, Model)
    bundle = EvidenceBundle(model.name, model.spec.artifact.sha256)
    datasets = model.spec.datasets
    evaluation = (
        snapshot.resources.get(f"Dataset/{datasets.evaluation}") if datasets.evaluation else None
    )
    reference_name = datasets.reference or datasets.training
    reference = snapshot.resources.get(f"Dataset/{reference_name}") if reference_name else None
    if evaluation is None:
        missing = f"model {model.name} names no evaluation dataset (spec.datasets.evaluation)"
        for request in requests:
            bundle.items[request] = Evidence(request.check, "", None, missing)
        return bundle
    key_inputs = {
        "model": model.spec.artifact.sha256,
        "task": model.spec.task,
        "features": model.spec.features or "from-model",
        "evaluation": _digest(evaluation),
        "reference": _digest(reference) if reference else None,
    }
    try:
        _verify_pinned(
            snapshot,
            model_resource,
            model.spec.artifact.uri,
            model.spec.artifact.sha256,
            "spec.artifact.sha256",
            store,
        )
        for dataset in (evaluation, reference):
            if dataset is not None:
                spec = dataset.model.spec  # type: ignore[attr-defined]
                _verify_pinned(snapshot, dataset, spec.uri, spec.sha256, "spec.sha256", store)
    except EvidenceError as exc:
        for request in requests:
            bundle.items[request] = Evidence(request.check, "", None, str(exc))
        return bundle
    pending: list[tuple[EvidenceRequest, str]] = []
    for request in requests:
        key = evidence_key(request, key_inputs)
        stored = None if refresh else store.get(key)
        if stored is not None:
            bundle.items[request] = Evidence(
                request.check,
                key,
                stored.result.get("metrics"),
                stored.result.get("error"),
                cached=True,
                artifacts=stored.artifacts,
            )
        else:
            pending.append((request, key))
    if not pending:
        return bundle
    if not compute:
        for request, key in pending:
            bundle.items[request] = Evidence(
                request.check, key, None, "not computed yet (run alignops evidence compute)"
            )
        return bundle
    try:
        if progress:
            progress(f"loading {model.name} and its data")
        inputs = _inputs(snapshot, model_resource, evaluation, reference, pending[0][1])
    except EvidenceError as exc:
        for request, key in pending:
            bundle.items[request] = Evidence(request.check, key, None, str(exc))
        return bundle
    for request, key in pending:
        spec = CHECKS[request.check]
        if progress:
            progress(f"{request.check} of {model.name}")
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        metrics: dict[str, Any] | None = None
        artifacts: dict[str, bytes] = {}
        error: str | None = None
        rows = 0
        try:
            result = spec.run(inputs, request.config)
            metrics, artifacts, rows = result.metrics, result.artifacts, result.rows
        except EvidenceError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug in a check denies, it never passes
            error = f"the {request.check} check crashed: {type(exc).__name__}: {exc}"
        cpu = time.process_time() - started_cpu
        wall = time.perf_counter() - started_wall
        if error is None:
            store.put(key, {"check": request.check, "metrics": metrics, "error": None}, artifacts)
        bundle.items[request] = Evidence(
            request.check, key, metrics, error, artifacts=tuple(sorted(artifacts))
        )
        bundle.usage.append(
            UsageRecord(
                recorded_at=datetime.now(UTC),
                model=model.name,
                model_digest=model.spec.artifact.sha256,
                activity=spec.activity,
                check=request.check,
                evidence_key=key,
                revision=snapshot.revision,
                cpu_seconds=cpu,
                wall_seconds=wall,
                rows=rows,
                labels=dict(model.metadata.labels),
            )
        )
    return bundle


def _digest(resource: Resource) -> str:
    model = resource.model
    assert isinstance(model, Dataset)
    return model.spec.sha256


def _inputs(
    snapshot: Snapshot,
    model_resource: Resource,
    evaluation: Resource,
    reference: Resource | None,
    key: str,
) -> EvidenceInputs:
    model = model_resource.model
    assert isinstance(model, Model)
    loaded = load_model(snapshot, model_resource)
    eval_data = load_dataset(snapshot, evaluation)
    ref_data = load_dataset(snapshot, reference) if reference is not None else None
    features = (
        tuple(model.spec.features)
        or tuple(str(f) for f in getattr(loaded.estimator, "feature_names_in_", None) or ())
        or eval_data.features
    )
    if not features:
        raise EvidenceError(
            f"{model_resource.file}:{model_resource.line_of('spec.features')}: cannot tell which "
            "columns the model reads; list them in spec.features"
        )
    return EvidenceInputs(
        model=loaded,
        evaluation=eval_data,
        reference=ref_data,
        features=features,
        task=model.spec.task,
        seed=int(key[:8], 16),
    )

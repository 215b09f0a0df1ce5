"""Model artifacts and datasets: found, digest-checked, loaded safely.

A digest that does not match is an error, never a silent reload. Model files load with
skops by default (only trusted types: scikit-learn's and those the manifest lists);
pickle and joblib run code when loaded, so they load only when the manifest says
``trusted: true`` — and always after the pinned digest matched. An MLflow model folder
(``MLmodel`` file with a ``sklearn`` flavor) is digested as a whole and loads its model
file under the same rules.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignops.errors import EvidenceError
from alignops.manifests.documents import parse_documents
from alignops.manifests.kinds import Dataset, Model
from alignops.manifests.loader import Resource
from alignops.manifests.snapshot import Snapshot

__all__ = [
    "ALIGNOPS_TRUSTED_TYPES",
    "LoadedDataset",
    "LoadedModel",
    "artifact_store",
    "deserialize_model",
    "load_dataset",
    "load_model",
]

ALIGNOPS_TRUSTED_TYPES = (
    "alignops.evidence.mitigation.GroupThresholdClassifier",
    "sklearn.tree._tree.Tree",
)
"""Types skops may load beyond its own defaults: this package's, and scikit-learn's tree
structure that every tree ensemble holds."""


def artifact_store() -> Path:
    """The local artifact store ``store://NAME`` refers to: ``ALIGNOPS_ARTIFACT_STORE``,
    else ``~/.cache/alignops/artifacts``."""
    configured = os.environ.get("ALIGNOPS_ARTIFACT_STORE")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "alignops" / "artifacts"


@dataclass(frozen=True)
class LoadedModel:
    name: str
    digest: str
    format: str
    estimator: Any = field(repr=False)


@dataclass(frozen=True)
class LoadedDataset:
    name: str
    digest: str
    role: str
    label: str | None
    protected_attributes: tuple[str, ...]
    features: tuple[str, ...]
    frame: Any = field(repr=False)


def _where(resource: Resource, field_path: str) -> str:
    return f"{resource.file}:{resource.line_of(field_path)}"


def _tree_digest(files: dict[str, bytes]) -> str:
    """Digest of a folder: sha256 over each relative path and its content's sha256."""
    lines = "".join(f"{p}\0{hashlib.sha256(d).hexdigest()}\n" for p, d in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def _read_artifact(snapshot: Snapshot, uri: str, resource: Resource) -> dict[str, bytes]:
    """Relative path → bytes; one entry '' for a single file, several for a folder."""
    if uri.startswith("store://"):
        name = uri.removeprefix("store://")
        root = artifact_store().resolve()
        target = (root / name).resolve()
        if root not in target.parents:
            raise EvidenceError(f"{_where(resource, 'spec.artifact.uri')}: {uri} leaves the store")
        if target.is_file():
            return {"": target.read_bytes()}
        if target.is_dir():
            return {
                p.relative_to(target).as_posix(): p.read_bytes()
                for p in target.rglob("*")
                if p.is_file()
            }
        raise EvidenceError(
            f"{_where(resource, 'spec.artifact.uri')}: {uri} is not in the artifact store {root}"
        )
    path = posixpath.normpath(uri)
    if path in snapshot.files:
        return {"": snapshot.read(path)}
    prefix = path.rstrip("/") + "/"
    folder = {p[len(prefix) :]: snapshot.read(p) for p in snapshot.files if p.startswith(prefix)}
    if folder:
        return folder
    raise EvidenceError(
        f"{_where(resource, 'spec.artifact.uri')}: {uri} is not in the repository at "
        f"{snapshot.short}"
    )


def _check_digest(actual: str, pinned: str, resource: Resource, field_path: str, what: str) -> None:
    if actual != pinned:
        raise EvidenceError(
            f"{_where(resource, field_path)}: {what} has sha256 {actual}, but the manifest pins "
            f"{pinned}; refusing to use it (update the digest if the new file is intended)"
        )


def load_model(snapshot: Snapshot, resource: Resource) -> LoadedModel:
    """The model of a ``Model`` resource, after its digest matched."""
    model = resource.model
    assert isinstance(model, Model)
    artifact = model.spec.artifact
    files = _read_artifact(snapshot, artifact.uri, resource)
    single = list(files) == [""]
    digest = hashlib.sha256(files[""]).hexdigest() if single else _tree_digest(files)
    _check_digest(digest, artifact.sha256, resource, "spec.artifact.sha256", artifact.uri)
    fmt: str = artifact.format
    if not single or fmt == "mlflow":
        data, fmt = _mlflow_model(files, resource)
    else:
        data = files[""]
    estimator = _deserialize(data, fmt, resource, artifact.trusted, artifact.trusted_types)
    return LoadedModel(model.name, digest, fmt, estimator)


def _mlflow_model(files: dict[str, bytes], resource: Resource) -> tuple[bytes, str]:
    where = _where(resource, "spec.artifact.uri")
    if "MLmodel" not in files:
        raise EvidenceError(f"{where}: a model folder needs an MLflow 'MLmodel' file")
    (doc,) = parse_documents("MLmodel", files["MLmodel"])
    flavor = (doc.value.get("flavors") or {}).get("sklearn")
    if not isinstance(flavor, dict) or not isinstance(flavor.get("pickled_model"), str):
        raise EvidenceError(f"{where}: the MLflow model has no sklearn flavor")
    name = posixpath.normpath(flavor["pickled_model"])
    if name not in files:
        raise EvidenceError(f"{where}: the MLflow model file {name} is missing")
    serialization = str(flavor.get("serialization_format", "cloudpickle"))
    fmt = "skops" if serialization == "skops" or name.endswith(".skops") else "pickle"
    return files[name], fmt


def _deserialize(
    data: bytes, fmt: str, resource: Resource, trusted: bool, extra_types: list[str]
) -> Any:
    where = _where(resource, "spec.artifact.format")
    return deserialize_model(data, fmt, trusted=trusted, trusted_types=extra_types, where=where)


def deserialize_model(
    data: bytes, fmt: str, *, trusted: bool, trusted_types: list[str], where: str
) -> Any:
    """A model object from the bytes of a model file, under the gate's safety rules.

    skops loads only scikit-learn's types, :data:`ALIGNOPS_TRUSTED_TYPES` and
    ``trusted_types``; ``pickle`` and ``joblib`` run code when loaded, so they load only
    when ``trusted``. Check the file's pinned digest before calling this. ``where`` starts
    every error message (a manifest's ``file:line``, or the runtime's spec field).
    """
    if fmt == "skops":
        import skops.io as sio

        try:
            untrusted = sio.get_untrusted_types(data=data)
            allowed = {*ALIGNOPS_TRUSTED_TYPES, *trusted_types}
            refused = [t for t in untrusted if t not in allowed]
            if refused:
                raise EvidenceError(
                    f"{where}: the skops file contains types that are not trusted: "
                    f"{', '.join(refused)} (list them in spec.artifact.trustedTypes after review)"
                )
            return sio.loads(data, trusted=[t for t in untrusted if t in allowed])
        except EvidenceError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to read the file
            raise EvidenceError(f"{where}: cannot load the skops file: {exc}") from None
    if not trusted:
        raise EvidenceError(
            f"{where}: {fmt} files run code when loaded; set spec.artifact.trusted: true "
            "(the pinned sha256 is still checked) or save the model with skops"
        )
    try:
        if fmt == "joblib":
            import joblib

            return joblib.load(io.BytesIO(data))
        return pickle.loads(data)
    except Exception as exc:  # noqa: BLE001
        raise EvidenceError(f"{where}: cannot load the {fmt} file: {exc}") from None


def load_dataset(snapshot: Snapshot, resource: Resource) -> LoadedDataset:
    """The data of a ``Dataset`` resource, after its digest matched."""
    import pandas as pd

    dataset = resource.model
    assert isinstance(dataset, Dataset)
    spec = dataset.spec
    if spec.uri not in snapshot.files:
        raise EvidenceError(
            f"{_where(resource, 'spec.uri')}: {spec.uri} is not in the repository at "
            f"{snapshot.short}"
        )
    data = snapshot.read(spec.uri)
    digest = hashlib.sha256(data).hexdigest()
    _check_digest(digest, spec.sha256, resource, "spec.sha256", spec.uri)
    fmt = spec.format or ("csv" if spec.uri.endswith((".csv", ".csv.gz")) else "parquet")
    try:
        if fmt == "csv":
            frame = pd.read_csv(io.BytesIO(data), compression="infer")
        else:
            frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - a corrupt or mislabelled file
        raise EvidenceError(f"{_where(resource, 'spec.uri')}: cannot read {fmt}: {exc}") from None
    needed = [c for c in (spec.label, *spec.protected_attributes, *spec.features) if c]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise EvidenceError(
            f"{_where(resource, 'spec.uri')}: {spec.uri} has no column {', '.join(missing)}"
        )
    return LoadedDataset(
        dataset.name,
        digest,
        spec.role,
        spec.label,
        tuple(spec.protected_attributes),
        tuple(spec.features),
        frame,
    )

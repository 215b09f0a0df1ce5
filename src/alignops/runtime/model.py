"""A served model version: its file digest-checked and loaded safely, and how it answers.

Loading follows the gate's rules (:func:`alignops.evidence.artifacts.deserialize_model`):
the file's sha256 must equal the pinned one before a byte of it is deserialized; skops
loads only trusted types; pickle and joblib load only when ``trusted``.

Answering (:meth:`ModelVersion.respond`) runs in a worker thread: it parses the request
body, orders each row's features, calls the model's own ``predict`` (and
``predict_proba`` when it has one) and encodes the response body.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from alignops.errors import InputError
from alignops.evidence.artifacts import deserialize_model
from alignops.runtime.spec import ServedModel

__all__ = ["ModelVersion", "RequestError", "load_model_version", "parse_rows"]


class RequestError(Exception):
    """A request the service answers with an error status instead of predictions."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def parse_rows(body: bytes) -> list[dict[str, Any]]:
    """The rows of a ``{"rows": [...]}`` (or ``{"instances": [...]}``) JSON body."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, "bad-request", f"the body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise RequestError(400, "bad-request", 'the body must be {"rows": [{feature: value}]}')
    keys = [k for k in ("rows", "instances") if k in payload]
    if len(keys) != 1:
        raise RequestError(
            400, "bad-request", 'the body needs exactly one of "rows" or "instances"'
        )
    rows = payload[keys[0]]
    if not isinstance(rows, list) or not rows:
        raise RequestError(400, "bad-request", f'"{keys[0]}" must be a non-empty list')
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RequestError(
                400, "bad-request", f"{keys[0]}[{i}] must be an object of feature: value"
            )
    return rows


@dataclass(frozen=True)
class ModelVersion:
    """One loaded model version and the constant parts of its answers."""

    name: str
    version: str
    sha256: str
    percent: int
    features: tuple[str, ...]
    frame_input: bool
    estimator: Any = field(repr=False)
    has_proba: bool = False
    classes: list[Any] | None = None

    def respond(self, body: bytes, request_id: str, revision: str) -> tuple[bytes, int]:
        """The JSON response body for one request body, and how many rows it scored."""
        values = self.values(parse_rows(body))
        predictions, probabilities = self.predict(self.matrix(values))
        return self.encode(predictions, probabilities, request_id, revision), len(values)

    def values(self, rows: list[dict[str, Any]]) -> list[list[Any]]:
        """Each row's feature values in the model's column order."""
        features = self.features
        try:
            return [[row[f] for f in features] for row in rows]
        except KeyError as exc:
            missing = exc.args[0]
            index = next(i for i, row in enumerate(rows) if missing not in row)
            raise RequestError(
                400, "bad-request", f"rows[{index}] has no feature {missing!r}"
            ) from None

    def matrix(self, values: list[list[Any]]) -> Any:
        """The model's input: a DataFrame if it was fitted on one, else a float array."""
        if self.frame_input:
            import pandas as pd

            return pd.DataFrame(values, columns=list(self.features))
        import numpy as np

        try:
            return np.asarray(values, dtype=np.float64)
        except (ValueError, TypeError):
            raise RequestError(
                400, "bad-request", f"every feature of {self.name} must be a number"
            ) from None

    def predict(self, matrix: Any) -> tuple[Any, Any]:
        """The model's own ``predict`` (and ``predict_proba``) on the matrix."""
        try:
            predictions = self.estimator.predict(matrix)
            probabilities = self.estimator.predict_proba(matrix) if self.has_proba else None
        except (ValueError, TypeError) as exc:
            raise RequestError(
                422, "unprocessable", f"the model cannot score these rows: {exc}"
            ) from None
        return predictions, probabilities

    def encode(self, predictions: Any, probabilities: Any, request_id: str, revision: str) -> bytes:
        """The response body for these rows' predictions."""
        answer: dict[str, Any] = {
            "predictions": predictions.tolist(),
            "model": self.name,
            "version": self.version,
            "revision": revision,
            "requestId": request_id,
        }
        if probabilities is not None:
            answer["probabilities"] = probabilities.tolist()
            answer["classes"] = self.classes
        return json.dumps(answer, separators=(",", ":")).encode()


def load_model_version(served: ServedModel, *, where: str) -> ModelVersion:
    """Read, digest-check and load one served model; an :class:`InputError` if refused."""
    try:
        data = served.path.read_bytes()
    except OSError as exc:
        raise InputError(f"{where}: cannot read {served.path}: {exc.strerror}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != served.sha256:
        raise InputError(
            f"{where}: {served.path} has sha256 {actual}, but the spec pins {served.sha256}; "
            "refusing to start"
        )
    estimator = deserialize_model(
        data,
        served.format,
        trusted=served.trusted,
        trusted_types=served.trusted_types,
        where=where,
    )
    if not callable(getattr(estimator, "predict", None)):
        raise InputError(f"{where}: {served.path} holds a {type(estimator).__name__}, no model")
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if served.features:
        features = tuple(served.features)
    elif fitted_names is not None:
        features = tuple(str(n) for n in fitted_names)
    else:
        raise InputError(
            f"{where}: {served.path} was fitted without feature names; list the input "
            "columns in order in 'features'"
        )
    has_proba = callable(getattr(estimator, "predict_proba", None))
    classes = getattr(estimator, "classes_", None)
    return ModelVersion(
        name=served.name,
        version=served.version,
        sha256=actual,
        percent=served.percent,
        features=features,
        frame_input=fitted_names is not None,
        estimator=estimator,
        has_proba=has_proba,
        classes=classes.tolist() if has_proba and classes is not None else None,
    )

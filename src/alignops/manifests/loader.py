"""Manifest files → validated :class:`Resource` objects, errors with file, line and field."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from alignops.errors import ManifestError, Problem
from alignops.manifests import kinds as _kinds  # noqa: F401  (registers every kind)
from alignops.manifests.base import KINDS, ResourceModel
from alignops.manifests.config import RepoConfig
from alignops.manifests.documents import Document, Path, format_path, parse_documents

__all__ = ["Resource", "load_config", "load_manifests", "validation_problems"]


@dataclass(frozen=True, slots=True, eq=False)
class Resource:
    """One validated manifest: typed model, the manifest as written, and where it was."""

    model: ResourceModel
    manifest: dict[str, Any] = field(repr=False)
    document: Document = field(repr=False)

    @property
    def kind(self) -> str:
        return self.model.kind

    @property
    def name(self) -> str:
        return self.model.metadata.name

    @property
    def id(self) -> str:
        """``Kind/name``, unique within a snapshot."""
        return f"{self.model.kind}/{self.model.metadata.name}"

    @property
    def file(self) -> str:
        return self.document.file

    @property
    def line(self) -> int:
        return self.document.line

    def line_of(self, field_path: str) -> int:
        """Line where a dotted field (``spec.memory``, ``spec.traffic[0]``) was written."""
        return self.document.line_of(_parse_field(field_path))


def _parse_field(text: str) -> Path:
    parts: list[str | int] = []
    for piece in text.replace("]", "").split("."):
        name, *indexes = piece.split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indexes if i.isdigit())
    return tuple(parts)


def load_manifests(file: str, data: bytes) -> list[Resource]:
    """Every manifest in one YAML file; all problems of the file at once."""
    resources: list[Resource] = []
    problems: list[Problem] = []
    for doc in parse_documents(file, data):
        try:
            resources.append(_resource(doc))
        except ManifestError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ManifestError("", problems=problems)
    return resources


def _resource(doc: Document) -> Resource:
    value = doc.value
    if not isinstance(value, dict):
        raise _error(doc, (), f"a manifest must be a mapping, got {_type_name(value)}")
    kind = value.get("kind")
    api_version = value.get("apiVersion")
    if not isinstance(kind, str):
        raise _error(doc, ("kind",), "required string field is missing")
    info = KINDS.get(kind)
    if info is None:
        hint = difflib.get_close_matches(kind, KINDS, n=1)
        known = f"did you mean {hint[0]!r}?" if hint else f"known kinds: {', '.join(KINDS)}"
        raise _error(doc, ("kind",), f"unknown kind {kind!r}; {known}")
    if not isinstance(api_version, str):
        raise _error(doc, ("apiVersion",), "required string field is missing")
    if api_version not in info.api_versions:
        raise _error(
            doc,
            ("apiVersion",),
            f"{kind} does not accept apiVersion {api_version!r}; "
            f"use {' or '.join(info.api_versions)}",
        )
    try:
        model = info.model.model_validate(value)
    except ValidationError as exc:
        raise ManifestError("", problems=validation_problems(doc, exc, info.model)) from None
    return Resource(model, value, doc)


def load_config(file: str, data: bytes) -> RepoConfig:
    """``alignops.yaml``: exactly one document, validated, references resolved."""
    docs = parse_documents(file, data)
    if len(docs) != 1 or not isinstance(docs[0].value, dict):
        raise ManifestError.single(file, "must hold exactly one YAML mapping", line=1)
    doc = docs[0]
    try:
        config = RepoConfig.model_validate(doc.value)
    except ValidationError as exc:
        raise ManifestError("", problems=validation_problems(doc, exc, RepoConfig)) from None
    problems = list(_config_reference_problems(config, doc))
    if problems:
        raise ManifestError("", problems=problems)
    return config


def _config_reference_problems(config: RepoConfig, doc: Document) -> Iterable[Problem]:
    for group, key in (("environments", "name"), ("targets", "name"), ("priceLists", "name")):
        seen: set[str] = set()
        for i, item in enumerate(doc.value.get(group) or []):
            name = item.get(key)
            if name in seen:
                yield _problem(doc, (group, i, key), f"duplicate name {name!r}")
            seen.add(name)
    targets = {t.name for t in config.targets}
    for i, env in enumerate(config.environments):
        if env.target not in targets:
            known = ", ".join(sorted(targets)) or "none defined"
            yield _problem(
                doc,
                ("environments", i, "target"),
                f"unknown target {env.target!r} (targets: {known})",
            )
    prices = {p.name for p in config.price_lists}
    for i, target in enumerate(config.targets):
        if target.price_list is not None and target.price_list not in prices:
            yield _problem(
                doc, ("targets", i, "priceList"), f"unknown price list {target.price_list!r}"
            )


def _problem(doc: Document, path: Path, message: str) -> Problem:
    return Problem(doc.file, message, line=doc.line_of(path), field=format_path(path) or None)


def _error(doc: Document, path: Path, message: str) -> ManifestError:
    return ManifestError("", problems=(_problem(doc, path, message),))


def _type_name(value: Any) -> str:
    return {list: "a list", str: "a string", bool: "a boolean", int: "a number"}.get(
        type(value), type(value).__name__
    )


def validation_problems(
    doc: Document, exc: ValidationError, model: type[BaseModel]
) -> list[Problem]:
    """Pydantic's errors as :class:`Problem` objects naming line and field."""
    problems = []
    for err in exc.errors(include_url=False):
        path = _data_path(doc.value, err["loc"])
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = _unknown_field_message(doc.value, model, path)
        elif err["type"] == "missing":
            message = "required field is missing"
        elif err["type"] == "string_type" and isinstance(err["input"], int | float | bool):
            message = (
                f"expected a string, got {str(err['input']).lower()!r} which YAML reads as a "
                "number or boolean; put it in quotes"
            )
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        problems.append(_problem(doc, path, message))
    return problems


def _data_path(value: Any, loc: tuple[int | str, ...]) -> Path:
    """Pydantic's ``loc`` without union tags, as a path into the written document."""
    path: list[str | int] = []
    current = value
    for i, part in enumerate(loc):
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and part < len(current)
        if in_dict or in_list:
            current = current[part]
            path.append(part)
        elif i == len(loc) - 1:
            path.append(part)  # a missing field: name it, point at its parent's line
    return tuple(path)


def _unknown_field_message(value: Any, model: type[BaseModel], path: Path) -> str:
    allowed = _allowed_fields(value, model, path[:-1])
    name = str(path[-1]) if path else ""
    if not allowed:
        return "unknown field"
    hint = difflib.get_close_matches(name, allowed, n=1)
    if hint:
        return f"unknown field; did you mean {hint[0]!r}?"
    return f"unknown field; allowed: {', '.join(allowed)}"


def _allowed_fields(value: Any, model: type[BaseModel], path: Path) -> list[str]:
    """The field names the schema allows at ``path`` (best effort, for error messages)."""
    annotation: Any = model
    current = value
    for part in path:
        annotation = _resolve(annotation, current)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = {f.alias or n: f.annotation for n, f in annotation.model_fields.items()}
            annotation = fields.get(str(part))
        else:
            args = typing.get_args(annotation)
            annotation = args[-1] if args else None
        current = (
            current.get(part)
            if isinstance(current, dict)
            else (current[part] if isinstance(current, list) and isinstance(part, int) else None)
        )
        if annotation is None:
            return []
    annotation = _resolve(annotation, current)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or n for n, f in annotation.model_fields.items()]
    return []


def _resolve(annotation: Any, value: Any) -> Any:
    """Unwrap Annotated and Optional; pick the union member a ``type`` tag selects."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        tag = value.get("type") if isinstance(value, dict) else None
        for m in models:
            literal = m.model_fields.get("type")
            if literal is not None and tag in typing.get_args(literal.annotation):
                return m
        if len(members) == 1:
            return _resolve(members[0], value)
        return models[0] if len(models) == 1 else annotation
    return annotation

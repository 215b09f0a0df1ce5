"""Which Rego version a module is written in: declared, or detected and never guessed.

Declared wins: ``policy.fileRegoVersions`` (glob → v0/v1) in ``alignops.yaml``, then
``policy.regoVersion``. With ``auto`` (the default) a module is parsed both ways:

- parses only as v1 → v1; only as v0 → v0 (``deny[msg] { … }`` is v0);
- parses both ways → the two syntax trees are compared; equal → v1, different → refused,
  asking for a declaration, because the file would mean different things;
- parses neither way → refused with the error of the version it most looks like.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from alignops.errors import PolicyError
from alignops.manifests.config import PolicySettings
from alignops.manifests.globs import glob_match
from alignops.policy.engine import RegorusEngine, RegoVersion

__all__ = ["declared_version", "detect_version", "module_version"]

_V1_HINTS = re.compile(r"^\s*import\s+rego\.v1\b|\b(if|contains)\b", re.M)
_SPAN_KEYS = {"span", "eidx", "sidx", "qidx", "rego_v1", "source"}


def declared_version(path: str, settings: PolicySettings) -> RegoVersion | None:
    for pattern, version in settings.file_rego_versions.items():
        if glob_match(pattern, path):
            return version
    if settings.rego_version != "auto":
        return settings.rego_version
    return None


def module_version(path: str, text: str, settings: PolicySettings) -> RegoVersion:
    declared = declared_version(path, settings)
    return declared if declared is not None else detect_version(path, text)


def _parse(path: str, text: str, version: RegoVersion) -> tuple[Any, PolicyError | None]:
    engine = RegorusEngine()
    try:
        engine.add_module(path, text, version=version)
    except PolicyError as exc:
        return None, exc
    keywords = [w for w in engine.warnings if "treated as identifier" in w.message]
    if keywords:
        # OPA's v0 parser rejects `if`/`contains`/`in`/`every` without their imports;
        # regorus reads them as identifiers and warns. Count that as not parsing.
        return None, PolicyError("", problems=tuple(keywords))
    return _strip(engine.ast()), None


def _strip(node: Any) -> Any:
    if isinstance(node, Mapping):
        if {"line", "col", "start", "end"} <= node.keys():
            return None
        return {k: _strip(v) for k, v in node.items() if k not in _SPAN_KEYS}
    if isinstance(node, list):
        return [_strip(x) for x in node]
    return node


def detect_version(path: str, text: str) -> RegoVersion:
    v1_ast, v1_error = _parse(path, text, "v1")
    v0_ast, v0_error = _parse(path, text, "v0")
    if v1_error is None and v0_error is None:
        if v1_ast == v0_ast:
            return "v1"
        raise PolicyError(
            f"{path}: parses as Rego v0 and as Rego v1 with different meanings; declare its "
            "version (add `import rego.v1`, or set policy.fileRegoVersions in alignops.yaml)"
        )
    if v1_error is None:
        return "v1"
    if v0_error is None:
        return "v0"
    assert v1_error is not None and v0_error is not None
    likely_v1 = bool(_V1_HINTS.search(text))
    error = v1_error if likely_v1 else v0_error
    raise PolicyError(
        f"Rego syntax error (read as {'v1' if likely_v1 else 'v0'}, the version this file "
        "looks like; it does not parse as the other either)",
        problems=error.problems,
    )

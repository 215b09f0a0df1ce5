"""JSON Schema of every kind and of ``alignops.yaml``, generated from the models.

Editors (yaml-language-server, VS Code, JetBrains) validate and complete manifests with
``# yaml-language-server: $schema=…`` pointing at the file ``alignops schema`` writes.
"""

from __future__ import annotations

from typing import Any

from alignops.manifests.base import KINDS
from alignops.manifests.config import RepoConfig

__all__ = ["SCHEMA_ID", "config_schema", "kind_schema", "manifest_schema"]

SCHEMA_ID = "https://alignops.dev/schemas/v1alpha1"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def kind_schema(kind: str) -> dict[str, Any]:
    info = KINDS[kind]
    schema = info.model.model_json_schema(by_alias=True, mode="validation")
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"enum": list(info.api_versions), "title": "apiVersion"}
    props["kind"] = {"const": kind, "title": "Kind"}
    schema["title"] = kind
    schema["description"] = info.summary
    return schema


def manifest_schema() -> dict[str, Any]:
    """One schema accepting any kind, picked by ``kind``."""
    definitions: dict[str, Any] = {}
    branches = []
    for kind in KINDS:
        schema = kind_schema(kind)
        definitions.update(schema.pop("$defs", {}))
        definitions[kind] = schema
        branches.append(
            {
                "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                "then": {"$ref": f"#/$defs/{kind}"},
            }
        )
    return {
        "$schema": _DIALECT,
        "$id": f"{SCHEMA_ID}/manifest.json",
        "title": "alignops manifest",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata"],
        "properties": {"kind": {"enum": list(KINDS)}},
        "allOf": branches,
        "$defs": definitions,
    }


def config_schema() -> dict[str, Any]:
    schema = RepoConfig.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = _DIALECT
    schema["$id"] = f"{SCHEMA_ID}/alignops.yaml.json"
    schema["title"] = "alignops.yaml"
    return schema

"""The exported JSON Schema agrees with the loader on real and broken manifests."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from alignops.manifests import KINDS
from alignops.manifests.documents import parse_documents
from alignops.manifests.schema import config_schema, kind_schema, manifest_schema

TEMPLATES = Path(__file__).parents[2] / "src/alignops/scaffold/templates/basic"
MANIFESTS = [p for p in sorted(TEMPLATES.rglob("*.yaml")) if p.name != "alignops.yaml"]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_templates_validate_against_the_schema(path: Path) -> None:
    validator = jsonschema.Draft202012Validator(manifest_schema())
    for doc in parse_documents(path.name, path.read_bytes()):
        validator.validate(doc.value)


def test_schema_rejects_unknown_fields_and_kinds() -> None:
    validator = jsonschema.Draft202012Validator(manifest_schema())
    good = {
        "apiVersion": "alignops.dev/v1alpha1",
        "kind": "ServerlessFunction",
        "metadata": {"name": "f"},
        "spec": {"handler": "m:f", "memory": 256},
    }
    validator.validate(good)
    bad_field = {**good, "spec": {**good["spec"], "memroy": 1}}
    assert not validator.is_valid(bad_field)
    assert not validator.is_valid({**good, "kind": "Nope"})
    assert not validator.is_valid({**good, "apiVersion": "v1"})


def test_config_schema_validates_the_template() -> None:
    (doc,) = parse_documents("alignops.yaml", (TEMPLATES / "alignops.yaml").read_bytes())
    jsonschema.Draft202012Validator(config_schema()).validate(doc.value)


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_schema_is_a_valid_schema(kind: str) -> None:
    jsonschema.Draft202012Validator.check_schema(kind_schema(kind))

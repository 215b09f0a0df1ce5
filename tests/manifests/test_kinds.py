"""Every kind: the examples of the brief load unchanged; mistakes name file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignops.errors import ManifestError
from alignops.manifests import KINDS, load_config, load_manifests
from alignops.manifests.kinds import ModelDeploymentPolicy, ServerlessFunction

TEMPLATES = Path(__file__).parents[2] / "src/alignops/scaffold/templates/basic"


def test_brief_policy_manifest_loads_unchanged() -> None:
    path = TEMPLATES / "policies/high-risk-model-policy.yaml"
    (resource,) = load_manifests("p.yaml", path.read_bytes())
    model = resource.model
    assert isinstance(model, ModelDeploymentPolicy)
    assert model.api_version == "policy.apexlogic.com/v1alpha1"
    assert model.spec.model_name == "fraud-detection-v2"
    kinds = [r.type for r in model.spec.requirements]
    assert kinds == ["ExplainabilityReport", "BiasDetection", "DataDriftMonitoring"]
    assert model.spec.approval_workflow is not None
    assert model.spec.approval_workflow.min_approvals == 2
    assert resource.manifest["spec"]["requirements"][0]["minScore"] == 0.85


def test_every_kind_has_a_template_or_doc_example() -> None:
    assert set(KINDS) == {
        "Model",
        "Dataset",
        "ModelDeployment",
        "ServerlessFunction",
        "ModelDeploymentPolicy",
        "Exception",
        "Budget",
        "AlertRoute",
        "AlertRule",
    }


def problems(text: str) -> list[str]:
    with pytest.raises(ManifestError) as info:
        load_manifests("functions/f.yaml", text.encode())
    return [str(p) for p in info.value.problems]


FUNCTION = """\
apiVersion: alignops.dev/v1alpha1
kind: ServerlessFunction
metadata:
  name: scorer
spec:
  handler: functions.scorer:score
  memory: 256
"""


def test_a_valid_function() -> None:
    (resource,) = load_manifests("f.yaml", FUNCTION.encode())
    assert isinstance(resource.model, ServerlessFunction)
    assert resource.id == "ServerlessFunction/scorer"
    assert resource.line_of("spec.memory") == 7


def test_unknown_field_is_rejected_with_a_suggestion() -> None:
    assert problems(FUNCTION.replace("memory:", "memroy:")) == [
        "functions/f.yaml:7: spec.memroy: unknown field; did you mean 'memory'?"
    ]


def test_wrong_type_names_line_and_field() -> None:
    (problem,) = problems(FUNCTION.replace("memory: 256", "memory: lots"))
    assert problem.startswith("functions/f.yaml:7: spec.memory: ")


def test_missing_field() -> None:
    (problem,) = problems(FUNCTION.replace("  handler: functions.scorer:score\n", ""))
    assert problem == "functions/f.yaml:5: spec.handler: required field is missing"


def test_unknown_kind_suggests() -> None:
    (problem,) = problems(FUNCTION.replace("ServerlessFunction", "ServerlesFunction"))
    assert "did you mean 'ServerlessFunction'" in problem and ":2: kind:" in problem


def test_wrong_api_version() -> None:
    (problem,) = problems(
        FUNCTION.replace("alignops.dev/v1alpha1", "policy.apexlogic.com/v1alpha1")
    )
    assert ":1: apiVersion: ServerlessFunction does not accept" in problem


def test_bad_name() -> None:
    (problem,) = problems(FUNCTION.replace("name: scorer", "name: Scorer_1"))
    assert ":4: metadata.name:" in problem


def test_all_problems_of_a_file_at_once() -> None:
    text = (
        FUNCTION.replace("memory: 256", "memory: 1")
        + "---\n"
        + FUNCTION.replace("handler: functions.scorer:score", "handler: not a handler")
    )
    found = problems(text)
    assert len(found) == 2
    assert found[0].startswith("functions/f.yaml:7: spec.memory")
    assert found[1].startswith("functions/f.yaml:14: spec.handler")


def test_not_a_mapping() -> None:
    assert problems("- a\n- b\n") == [
        "functions/f.yaml:1: a manifest must be a mapping, got a list"
    ]


def test_discriminated_requirement_errors_point_into_the_list() -> None:
    text = """\
apiVersion: alignops.dev/v1alpha1
kind: ModelDeploymentPolicy
metadata: {name: p}
spec:
  modelName: m
  requirements:
    - type: BiasDetection
      maxDisparty: 0.05
"""
    found = problems(text)
    assert (
        "functions/f.yaml:8: spec.requirements[0].maxDisparty: unknown field; did you mean 'maxDisparity'?"
        in found
    )
    assert (
        "functions/f.yaml:7: spec.requirements[0].maxDisparity: required field is missing" in found
    )


def test_exception_expiry_without_zone_is_utc() -> None:
    text = """\
apiVersion: alignops.dev/v1alpha1
kind: Exception
metadata: {name: w}
spec:
  rules: [a.deny]
  resources: [ServerlessFunction/x]
  reason: migration
  owner: team@example.com
  expiresAt: 2030-01-01
"""
    (resource,) = load_manifests("w.yaml", text.encode())
    assert resource.model.spec.expires_at.tzinfo is not None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("uri", "ok"),
    [
        ("data/train.parquet", True),
        ("../secrets.csv", False),
        ("/etc/passwd", False),
        ("data/../../x.csv", False),
        ("data/./x.csv", True),
    ],
)
def test_dataset_paths_stay_in_the_repository(uri: str, ok: bool) -> None:
    text = f"""\
apiVersion: alignops.dev/v1alpha1
kind: Dataset
metadata: {{name: d}}
spec:
  uri: {uri}
  sha256: {"a" * 64}
  role: training
"""
    if ok:
        load_manifests("d.yaml", text.encode())
    else:
        (problem,) = problems(text)
        assert ":5: spec.uri:" in problem and ("escapes" in problem or "absolute" in problem)


def test_config_references_are_checked() -> None:
    text = b"version: 1\nenvironments:\n  - name: prod\n    target: lambda\ntargets:\n  - name: local\n    provider: local\n"
    with pytest.raises(ManifestError) as info:
        load_config("alignops.yaml", text)
    (problem,) = info.value.problems
    assert str(problem) == (
        "alignops.yaml:4: environments[0].target: unknown target 'lambda' (targets: local)"
    )

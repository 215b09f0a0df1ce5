"""v0 and v1 Rego both evaluate correctly, detected or declared, never silently wrong."""

from __future__ import annotations

import pytest

from alignops.errors import PolicyError
from alignops.manifests.config import PolicySettings
from alignops.policy.versions import detect_version, module_version

BRIEF_V0 = """package finops.policy.serverless

deny[msg] {
input.kind == "ServerlessFunction"
input.spec.memory > 512
msg := "Serverless function memory limit exceeds 512MB for cost optimization."
}
"""

V1 = """package finops.policy.serverless

deny contains msg if {
\tinput.kind == "ServerlessFunction"
\tinput.spec.memory > 512
\tmsg := "Serverless function memory limit exceeds 512MB for cost optimization."
}
"""


@pytest.mark.parametrize(
    ("text", "version"),
    [
        (BRIEF_V0, "v0"),
        (V1, "v1"),
        ("package p\nimport rego.v1\nallow if input.ok\n", "v1"),
        ("package p\nimport future.keywords.if\nallow if { input.ok }\n", "v1"),
        ("package p\nallow { input.ok }\n", "v0"),
        ("package p\nx := 1\n", "v1"),
    ],
)
def test_detection(text: str, version: str) -> None:
    assert detect_version("p.rego", text) == version


def test_syntax_error_names_file_and_line() -> None:
    with pytest.raises(PolicyError) as info:
        detect_version("policies/p.rego", "package p\n\ndeny contains msg if {\n  msg := \n}\n")
    (problem,) = info.value.problems
    assert problem.file == "policies/p.rego" and problem.line in (4, 5)
    assert "read as v1" in info.value.message


def test_v0_syntax_error_reads_as_v0() -> None:
    with pytest.raises(PolicyError) as info:
        detect_version("p.rego", "package p\n\ndeny[msg] {\n  msg := \n}\n")
    assert "read as v0" in info.value.message
    assert info.value.problems[0].line in (3, 4, 5)


def test_declared_version_wins() -> None:
    settings = PolicySettings.model_validate({"regoVersion": "v1"})
    assert module_version("p.rego", BRIEF_V0, settings) == "v1"  # then fails loudly when added
    settings = PolicySettings.model_validate({"fileRegoVersions": {"policies/legacy/**": "v0"}})
    assert module_version("policies/legacy/a.rego", V1, settings) == "v0"
    assert module_version("policies/new.rego", V1, settings) == "v1"

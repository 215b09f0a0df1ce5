"""Conftest conventions: deny / violation / warn rules in any package, messages as
strings or objects, data files and repository context under ``data``."""

from __future__ import annotations

import pytest

from alignops.errors import PolicyError
from alignops.policy import PolicySet
from tests.conftest import Repo

FN = {
    "apiVersion": "alignops.dev/v1alpha1",
    "kind": "ServerlessFunction",
    "metadata": {"name": "f"},
    "spec": {"handler": "m:f", "memory": 1024},
}


def load(repo: Repo, **policies: str) -> PolicySet:
    for name, text in policies.items():
        repo.write(f"policies/{name}.rego", text)
    return PolicySet.load(repo.git.snapshot(None), environment="staging")


def messages(policy_set: PolicySet, manifest: dict[str, object]) -> dict[str, list[str]]:
    return {
        o.rule.id: [m.text for m in o.messages] or [f"error: {o.error}"]
        for o in policy_set.evaluate(manifest)
    }


def test_rules_and_severities(repo: Repo) -> None:
    policy_set = load(
        repo,
        custom="""package team.checks
import rego.v1
violation contains {"msg": "big", "field": "spec.memory", "limit": 512} if input.spec.memory > 512
warn_naming contains "short name" if count(input.metadata.name) < 3
deny_never contains "never" if false
helper := 1
""",
    )
    rules = {r.id: r.severity for r in policy_set.rules}
    assert rules["team.checks.violation"] == "deny"
    assert rules["team.checks.warn_naming"] == "warn"
    assert rules["team.checks.deny_never"] == "deny"
    assert "team.checks.helper" not in rules
    outcomes = {o.rule.id: o for o in policy_set.evaluate(FN)}
    (violation,) = outcomes["team.checks.violation"].messages
    assert violation.text == "big" and violation.field == "spec.memory"
    assert violation.details == {"limit": 512}
    assert [m.text for m in outcomes["team.checks.warn_naming"].messages] == ["short name"]
    assert "team.checks.deny_never" not in outcomes


def test_namespaces_restrict_the_gate(repo: Repo) -> None:
    config = (repo.path / "alignops.yaml").read_text()
    repo.write(
        "alignops.yaml",
        config.replace("  regoVersion: auto", "  regoVersion: auto\n  namespaces: [finops.*]"),
    )
    policy_set = load(repo, other='package other\nimport rego.v1\ndeny contains "x" if true\n')
    assert [r.id for r in policy_set.rules] == ["finops.policy.serverless.deny"]


def test_object_shaped_deny_is_refused_with_the_fix(repo: Repo) -> None:
    with pytest.raises(PolicyError) as info:
        load(repo, wrong='package wrong\nimport rego.v1\ndeny[msg] if { msg := "x" }\n')
    (problem,) = info.value.problems
    assert problem.file == "policies/wrong.rego" and problem.line == 3
    assert "deny contains msg if" in problem.message


def test_bad_message_shape_is_an_error_not_a_pass(repo: Repo) -> None:
    policy_set = load(repo, odd="package odd\nimport rego.v1\ndeny contains 42 if true\n")
    found = messages(policy_set, FN)
    assert found["odd.deny"][0].startswith("error: a message must be a string")


def test_evaluation_error_is_reported(repo: Repo) -> None:
    policy_set = load(
        repo,
        boom='package boom\nimport rego.v1\ndeny contains msg if { msg := sprintf("%d", [1/0]) }\n',
    )
    (outcome,) = [o for o in policy_set.evaluate(FN) if o.rule.id == "boom.deny"]
    assert outcome.error is not None and "policies/boom.rego:3" in outcome.error


def test_data_files_and_repository_context(repo: Repo) -> None:
    repo.write("policies/limits/data.yaml", "maxMemory:\n  staging: 512\n")
    policy_set = load(
        repo,
        ctx="""package ctx
import rego.v1
deny contains sprintf("over %d in %s", [limit, env]) if {
  env := data.alignops.environment
  limit := data.limits.maxMemory[env]
  input.spec.memory > limit
}
warn contains sprintf("%d functions", [count(data.alignops.resources.ServerlessFunction)]) if true
""",
    )
    found = messages(policy_set, FN)
    assert found["ctx.deny"] == ["over 512 in staging"]
    assert found["ctx.warn"] == ["1 functions"]


def test_data_conflicts_and_reserved_key(repo: Repo) -> None:
    repo.write("policies/data.yaml", "alignops: 1\nx: 1\n")
    repo.write("policies/data.json", '{"x": 2}')
    with pytest.raises(PolicyError) as info:
        load(repo)
    text = str(info.value)
    assert "data.alignops is reserved" in text
    assert "data.x is also defined in" in text


def test_brief_v0_and_v1_mixed_in_one_repository(repo: Repo) -> None:
    policy_set = load(
        repo,
        v1copy="""package finops.policy.serverless_v1

deny contains msg if {
\tinput.kind == "ServerlessFunction"
\tinput.spec.memory > 512
\tmsg := "Serverless function memory limit exceeds 512MB for cost optimization."
}
""",
    )
    assert policy_set.versions["policies/serverless.rego"] == "v0"
    assert policy_set.versions["policies/v1copy.rego"] == "v1"
    found = messages(policy_set, FN)
    expected = ["Serverless function memory limit exceeds 512MB for cost optimization."]
    assert found["finops.policy.serverless.deny"] == expected
    assert found["finops.policy.serverless_v1.deny"] == expected

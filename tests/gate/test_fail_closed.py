"""Fail closed: a policy that errors denies; it never lets a resource pass."""

from __future__ import annotations

from alignops.gate import check
from tests.conftest import Repo


def test_runtime_error_in_a_rule_is_a_deny(repo: Repo) -> None:
    repo.write(
        "policies/broken.rego",
        'package broken\nimport rego.v1\ndeny contains msg if {\n  x := input.spec.memory / 0\n  msg := sprintf("%v", [x])\n}\n',
    )
    verdict = check(repo.git.snapshot(None))
    assert verdict.outcome == "deny"
    failures = [f for f in verdict.denied if f.rule == "broken.deny"]
    assert failures and all("policy evaluation failed" in f.message for f in failures)
    assert failures[0].details["policy"] == "policies/broken.rego:3"


def test_conflicting_rule_values_deny(repo: Repo) -> None:
    repo.write(
        "policies/conflict.rego",
        'package conflict\nimport rego.v1\nlimit := 1\nlimit := 2 if input.kind\ndeny contains "x" if limit > 5\n',
    )
    verdict = check(repo.git.snapshot(None))
    assert verdict.outcome == "deny"
    assert all("policy evaluation failed" in f.message for f in verdict.denied)

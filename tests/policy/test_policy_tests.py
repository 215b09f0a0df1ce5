"""``alignops policy test`` runs test_* rules like ``opa test``."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Repo


def test_template_tests_pass(repo: Repo, cli: Any) -> None:
    result = cli("policy", "test", "--repo", str(repo.path))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "PASS: 2/2 passed" in result.stdout


def test_failures_errors_and_todo(repo: Repo, cli: Any) -> None:
    repo.write(
        "policies/more_test.rego",
        """package more_test
import rego.v1
test_fails if { 1 == 2 }
test_false := false
test_errors if { 1 / 0 == 1 }
todo_test_later if { true }
test_ok if { true }
""",
    )
    result = cli("policy", "test", "--repo", str(repo.path), "-o", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    status = {t["test"]: t["status"] for t in report["tests"]}
    assert status["data.more_test.test_fails"] == "fail"
    assert status["data.more_test.test_false"] == "fail"
    assert status["data.more_test.test_errors"] == "error"
    assert status["data.more_test.todo_test_later"] == "skip"
    assert status["data.more_test.test_ok"] == "pass"
    assert report["summary"] == {"pass": 3, "fail": 2, "error": 1, "skip": 1}


def test_run_filter(repo: Repo, cli: Any) -> None:
    result = cli("policy", "test", "--repo", str(repo.path), "--run", "small", "-v")
    assert result.exit_code == 0
    assert "1/1 passed" in result.stdout and "small" in result.stdout

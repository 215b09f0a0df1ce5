"""``alignops policy test``: run the ``test_*`` rules of the policies, like ``opa test``.

A test passes when its rule is ``true``; it fails when false or undefined, and errors
when evaluation fails. ``todo_test_*`` rules are reported as skipped. Tests see the same
``data`` as the gate (policy data files and ``data.alignops``); set ``input`` with
``with input as {…}``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Literal

from alignops.policy.bundle import PolicySet, TestRule
from alignops.policy.engine import EvaluationError

__all__ = ["TestResult", "run_tests"]

Status = Literal["pass", "fail", "error", "skip"]


@dataclass(frozen=True, slots=True)
class TestResult:
    rule: TestRule
    status: Status
    duration_ms: float
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.rule.id,
            "file": self.rule.module,
            "line": self.rule.line,
            "status": self.status,
            "durationMs": round(self.duration_ms, 3),
            "message": self.message,
        }


def run_tests(policies: PolicySet, *, match: str | None = None) -> list[TestResult]:
    pattern = re.compile(match) if match else None
    results = []
    for rule in sorted(policies.tests, key=lambda r: (r.module, r.line)):
        if pattern and not pattern.search(rule.id):
            continue
        if rule.todo:
            results.append(TestResult(rule, "skip", 0.0))
            continue
        started = time.perf_counter()
        try:
            found = policies.engine.eval_query(rule.id)
        except EvaluationError as exc:
            elapsed = (time.perf_counter() - started) * 1000
            results.append(TestResult(rule, "error", elapsed, str(exc)))
            continue
        elapsed = (time.perf_counter() - started) * 1000
        value = found[0]["expressions"][0]["value"] if found else None
        if value is True:
            results.append(TestResult(rule, "pass", elapsed))
        else:
            why = "undefined" if not found else f"evaluated to {value!r}"
            results.append(TestResult(rule, "fail", elapsed, why))
    return results

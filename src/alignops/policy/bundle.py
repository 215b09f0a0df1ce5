"""The policies of a snapshot, compiled once, evaluated per resource the conftest way.

- Modules: every ``.rego`` file under the policy paths, each in its own Rego version.
- Data: each ``data.json``/``data.yaml`` placed under ``data`` by its folder below the
  policy root (OPA bundle layout), plus ``data.alignops``: the revision, environment and
  every resource by kind and name (``data.alignops.resources.Model["fraud"]``).
- Gate rules: ``deny``, ``violation`` and ``warn`` (and ``deny_<suffix>`` …) in every
  package, or in ``policy.namespaces`` when set. A rule yields strings or objects with
  ``msg`` (optional ``field`` names the offending field, e.g. ``spec.memory``; the rest
  is kept as details).
- ``input`` is the manifest as written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as _field
from fnmatch import fnmatchcase
from typing import Any, Literal

from alignops.errors import PolicyError, Problem
from alignops.manifests.snapshot import Snapshot
from alignops.policy.engine import (
    UNDEFINED,
    EvaluationError,
    RegoEngine,
    RegoVersion,
    new_engine,
)
from alignops.policy.versions import module_version

__all__ = ["GateRule", "Message", "PolicySet", "RuleOutcome", "TestRule", "policy_data"]

_GATE_RULE = re.compile(r"^(deny|violation|warn)(_[A-Za-z0-9_]+)*$")
_TEST_RULE = re.compile(r"^(todo_)?test_[A-Za-z0-9_]*$")

Severity = Literal["deny", "warn"]


@dataclass(frozen=True, slots=True)
class GateRule:
    """A ``deny``/``violation``/``warn`` rule of some package."""

    package: str
    name: str
    module: str
    line: int

    @property
    def id(self) -> str:
        return f"{self.package}.{self.name}"

    @property
    def severity(self) -> Severity:
        return "warn" if self.name.startswith("warn") else "deny"


@dataclass(frozen=True, slots=True)
class TestRule:
    package: str
    name: str
    module: str
    line: int

    @property
    def id(self) -> str:
        return f"data.{self.package}.{self.name}"

    @property
    def todo(self) -> bool:
        return self.name.startswith("todo_")


@dataclass(frozen=True, slots=True)
class Message:
    text: str
    field: str | None = None
    details: Mapping[str, Any] = _field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What one gate rule said about one input: messages, or the error it raised."""

    rule: GateRule
    messages: tuple[Message, ...] = ()
    error: str | None = None


class PolicySet:
    """Compiled policies and data of one snapshot, ready to evaluate manifests."""

    def __init__(
        self,
        engine: RegoEngine,
        rules: tuple[GateRule, ...],
        tests: tuple[TestRule, ...],
        versions: Mapping[str, RegoVersion],
    ) -> None:
        self.engine = engine
        self.rules = rules
        self.tests = tests
        self.versions = dict(versions)

    @classmethod
    def load(
        cls,
        snapshot: Snapshot,
        *,
        environment: str | None = None,
        engine: str = "regorus",
        evidence: Mapping[str, Any] | None = None,
    ) -> PolicySet:
        rego = new_engine(engine)
        settings = snapshot.config.policy
        problems: list[Problem] = []
        versions: dict[str, RegoVersion] = {}
        for module in snapshot.policies:
            try:
                version = module_version(module.path, module.text, settings)
                rego.add_module(module.path, module.text, version=version)
                versions[module.path] = version
            except PolicyError as exc:
                problems.extend(exc.problems or (Problem(module.path, exc.message),))
        if problems:
            raise PolicyError("policies do not parse", problems=problems)
        rego.add_data(policy_data(snapshot, environment, evidence))
        rules, tests = _rules(rego, settings.namespaces)
        return cls(rego, rules, tests, versions)

    def evaluate(self, manifest: Mapping[str, Any]) -> list[RuleOutcome]:
        """Every gate rule on one manifest; rules that say nothing are left out."""
        self.engine.set_input(manifest)
        outcomes = []
        for rule in self.rules:
            try:
                value = self.engine.eval_rule(f"data.{rule.package}.{rule.name}")
            except EvaluationError as exc:
                outcomes.append(RuleOutcome(rule, error=str(exc)))
                continue
            messages, error = _messages(value)
            if messages or error:
                outcomes.append(RuleOutcome(rule, messages, error))
        return outcomes


def _messages(value: Any) -> tuple[tuple[Message, ...], str | None]:
    if value is UNDEFINED or value is None:
        return (), None
    if not isinstance(value, list):
        return (), f"rule must be a set of messages, got {json.dumps(value)[:200]}"
    messages = []
    for item in value:
        if isinstance(item, str):
            messages.append(Message(item))
        elif isinstance(item, dict) and isinstance(item.get("msg"), str):
            details = {k: v for k, v in item.items() if k not in ("msg", "field")}
            where = item.get("field")
            messages.append(
                Message(item["msg"], where if isinstance(where, str) else None, details)
            )
        else:
            return (), (
                "a message must be a string or an object with a string 'msg', got "
                f"{json.dumps(item)[:200]}"
            )
    return tuple(messages), None


def _rules(
    engine: RegoEngine, namespaces: list[str]
) -> tuple[tuple[GateRule, ...], tuple[TestRule, ...]]:
    gate: dict[str, GateRule] = {}
    tests: dict[str, TestRule] = {}
    problems = []
    for module in engine.modules():
        selected = not namespaces or any(fnmatchcase(module.package, n) for n in namespaces)
        for rule in module.rules:
            if _TEST_RULE.match(rule.name):
                tests.setdefault(
                    f"{module.package}.{rule.name}",
                    TestRule(module.package, rule.name, module.path, rule.line),
                )
                continue
            if not selected or not _GATE_RULE.match(rule.name):
                continue
            if rule.shape == "object":
                problems.append(
                    Problem(
                        module.path,
                        f"rule {rule.name} builds an object, not a set of messages: "
                        f"`{rule.name}[msg] if {{ … }}` is an object rule in Rego; write "
                        f"`{rule.name} contains msg if {{ … }}`",
                        line=rule.line,
                    )
                )
                continue
            gate.setdefault(
                f"{module.package}.{rule.name}",
                GateRule(module.package, rule.name, module.path, rule.line),
            )
    if problems:
        raise PolicyError("policies are not gate rules as written", problems=problems)
    return tuple(gate.values()), tuple(tests.values())


def policy_data(
    snapshot: Snapshot, environment: str | None, evidence: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The ``data`` document policies see: data files by folder, plus ``data.alignops``."""
    tree: dict[str, Any] = {}
    owners: dict[tuple[str, ...], str] = {}
    problems: list[Problem] = []
    for data_file in snapshot.data_files:
        node = tree
        for part in data_file.data_path:
            node = node.setdefault(part, {})
        for key, value in data_file.document.value.items():
            where = (*data_file.data_path, key)
            if where == ("alignops",):
                problems.append(
                    Problem(
                        data_file.path,
                        "data.alignops is reserved",
                        line=data_file.document.line_of((key,)),
                    )
                )
            elif key in node:
                problems.append(
                    Problem(
                        data_file.path,
                        f"data.{'.'.join(where)} is also defined in "
                        f"{owners.get(where, 'another file')}",
                        line=data_file.document.line_of((key,)),
                    )
                )
            else:
                node[key] = value
                owners[where] = data_file.path
    if problems:
        raise PolicyError("policy data conflicts", problems=problems)
    tree["alignops"] = {**_context(snapshot, environment), "evidence": dict(evidence or {})}
    return tree


def _context(snapshot: Snapshot, environment: str | None) -> dict[str, Any]:
    by_kind: dict[str, dict[str, Any]] = {}
    for resource in snapshot.resources.values():
        by_kind.setdefault(resource.kind, {})[resource.name] = resource.manifest
    return {
        "revision": snapshot.revision,
        "label": snapshot.label,
        "digest": snapshot.digest,
        "environment": environment,
        "resources": by_kind,
    }

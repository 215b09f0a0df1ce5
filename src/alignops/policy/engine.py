"""The Rego engine behind one interface, and the engines registry.

One engine ships: ``regorus`` (Microsoft's Rust engine, from the pinned
``gordon-to-regorus`` wheel), chosen because it evaluates both Rego v0 and v1 and
fails loudly on v0 syntax unless told. ``regopy`` was rejected: it silently reads v0
``deny[msg] { … }`` as an object (docs/decisions/0002-rego-engine.md). Another engine
plugs in by implementing :class:`RegoEngine` and registering a factory in
:data:`ENGINES`; the conformance tests run against every registered engine.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from alignops.errors import PolicyError, Problem

__all__ = [
    "ENGINES",
    "UNDEFINED",
    "EvaluationError",
    "ModuleInfo",
    "RegoEngine",
    "RegoVersion",
    "RuleInfo",
    "RuleShape",
    "new_engine",
]

RegoVersion = Literal["v0", "v1"]
RuleShape = Literal["set", "complete", "object", "function", "default"]


class _Undefined:
    """The value of a rule or query that produced nothing."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Any = _Undefined()


class EvaluationError(PolicyError):
    """A rule failed while evaluating (conflict, type error, divide by zero …)."""


@dataclass(frozen=True, slots=True)
class RuleInfo:
    name: str
    shape: RuleShape
    line: int


@dataclass(frozen=True, slots=True)
class ModuleInfo:
    path: str
    package: str
    rules: tuple[RuleInfo, ...]


class RegoEngine(Protocol):
    """What alignops needs from a Rego engine."""

    name: str

    def add_module(self, path: str, text: str, *, version: RegoVersion) -> None:
        """Parse and add a module; :class:`PolicyError` naming file and line if it fails."""

    def add_data(self, data: Mapping[str, Any]) -> None:
        """Merge a JSON object into ``data``."""

    def set_input(self, value: Any) -> None:
        """Set ``input`` for the evaluations that follow."""

    def eval_rule(self, path: str) -> Any:
        """Value of ``data.pkg.rule``, or :data:`UNDEFINED`; :class:`EvaluationError`."""

    def eval_query(self, query: str) -> list[dict[str, Any]]:
        """OPA result set: ``[{"expressions": [{"value", "text"}…], "bindings": {…}}…]``."""

    def modules(self) -> list[ModuleInfo]:
        """Every module added, with its package and the rules it defines."""


_LOCATED = re.compile(
    r"-->\s*(?P<file>.+?):(?P<line>\d+):(?P<col>\d+).*?\nerror: (?P<msg>[^\n]*)", re.S
)


def _problem(text: str, fallback_file: str) -> Problem:
    text = text.split("Stack backtrace:")[0].strip()
    match = _LOCATED.search(text)
    if match:
        return Problem(
            match["file"],
            match["msg"].strip(),
            line=int(match["line"]),
            column=int(match["col"]),
        )
    return Problem(fallback_file, text.removeprefix("error: ").strip() or "Rego error")


def _package_name(ref: Any) -> str:
    parts: list[str] = []
    node = ref
    while node:
        if "Var" in node:
            parts.append(node["Var"]["value"])
            break
        if "RefDot" in node:
            parts.append(node["RefDot"]["field"][1])
            node = node["RefDot"]["refr"]
        elif "RefBrack" in node:
            index = node["RefBrack"]["index"]
            parts.append(str(index.get("String", {}).get("value", "?")))
            node = node["RefBrack"]["refr"]
        else:
            break
    return ".".join(reversed(parts))


def _rule_info(rule: Mapping[str, Any]) -> RuleInfo | None:
    if "Default" in rule:
        default = rule["Default"]
        line = default.get("span", {}).get("line", 0)
        return RuleInfo(_package_name(default["refr"]), "default", line)
    head: Mapping[str, Any] = rule.get("Spec", {}).get("head", {})
    if not head:
        return None
    shape_key, body = next(iter(head.items()))
    ref = body["refr"]
    line = body.get("span", {}).get("line") or 0
    if shape_key == "Set":
        return RuleInfo(_package_name(ref), "set", line)
    if shape_key == "Func":
        return RuleInfo(_package_name(ref), "function", line)
    if "RefBrack" in ref:  # p[k] := v, or v0/v1 `p[x] if { … }`: an object, not a set
        return RuleInfo(_package_name(ref["RefBrack"]["refr"]), "object", line)
    return RuleInfo(_package_name(ref), "complete", line)


@contextmanager
def _stderr_captured() -> Iterator[list[str]]:
    """Collect what native code writes to file descriptor 2 (regorus prints parser
    warnings there) instead of letting it reach the user's terminal."""
    lines: list[str] = []
    sys.stderr.flush()
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(sink.read().decode("utf-8", "replace").splitlines())


def _warnings(lines: list[str], path: str) -> list[Problem]:
    text = "\n".join(lines)
    chunks = [c for c in re.split(r"\n(?=\s*-->)", text) if "warning:" in c]
    out = []
    for chunk in chunks:
        match = re.search(r"-->\s*(.+?):(\d+):(\d+).*?\nwarning: ([^\n]*)", chunk, re.S)
        if match:
            out.append(
                Problem(match[1], match[4].strip(), line=int(match[2]), column=int(match[3]))
            )
        else:
            out.append(Problem(path, chunk.strip()))
    return out


class RegorusEngine:
    """:class:`RegoEngine` on regorus."""

    name = "regorus"

    def __init__(self) -> None:
        os.environ["RUST_BACKTRACE"] = "0"  # error text without a Rust stack trace
        import regorus

        self._engine = regorus.Engine()
        self.warnings: list[Problem] = []
        """Parser warnings, e.g. a v1 keyword read as an identifier in a v0 module."""

    def add_module(self, path: str, text: str, *, version: RegoVersion) -> None:
        self._engine.set_rego_v0(version == "v0")
        try:
            with _stderr_captured() as printed:
                self._engine.add_policy(path, text)
        except RuntimeError as exc:
            raise PolicyError("", problems=(_problem(str(exc), path),)) from None
        self.warnings.extend(_warnings(printed, path))

    def add_data(self, data: Mapping[str, Any]) -> None:
        try:
            self._engine.add_data_json(json.dumps(data))
        except RuntimeError as exc:
            raise PolicyError(f"policy data: {_problem(str(exc), 'data').message}") from None

    def set_input(self, value: Any) -> None:
        self._engine.set_input_json(json.dumps(value))

    def set_input_json(self, text: str) -> None:
        """Like :meth:`set_input` for input already serialized (saves a dumps per rule)."""
        self._engine.set_input_json(text)

    def eval_rule(self, path: str) -> Any:
        try:
            raw = self._engine.eval_rule_as_json(path)
        except RuntimeError as exc:
            problem = _problem(str(exc), path)
            if problem.message == "not a valid rule path":
                return UNDEFINED
            raise EvaluationError("", problems=(problem,)) from None
        value = json.loads(raw)
        if value == "<undefined>":  # regorus' marker; tell it from the string itself
            results = self.eval_query(path)
            return results[0]["expressions"][0]["value"] if results else UNDEFINED
        return value

    def eval_query(self, query: str) -> list[dict[str, Any]]:
        try:
            raw = self._engine.eval_query_as_json(query)
        except RuntimeError as exc:
            problem = _problem(str(exc), "query")
            raise EvaluationError("", problems=(problem,)) from None
        results: list[dict[str, Any]] = json.loads(raw).get("result", [])
        return results

    def modules(self) -> list[ModuleInfo]:
        out = []
        for module in json.loads(self._engine.get_ast_as_json()):
            ast = module["ast"]
            rules = tuple(r for r in (_rule_info(x) for x in ast["rules"]) if r is not None)
            package = _package_name(ast["package"]["refr"])
            out.append(ModuleInfo(module["source"]["file"], package, rules))
        return out

    def ast(self) -> list[dict[str, Any]]:
        """The parsed modules as regorus' JSON AST."""
        result: list[dict[str, Any]] = json.loads(self._engine.get_ast_as_json())
        return result


ENGINES: dict[str, Callable[[], RegoEngine]] = {"regorus": RegorusEngine}
"""Engine factories by name."""


def new_engine(name: str = "regorus") -> RegoEngine:
    try:
        factory = ENGINES[name]
    except KeyError:
        raise PolicyError(
            f"unknown Rego engine {name!r}; available: {', '.join(ENGINES)}"
        ) from None
    return factory()

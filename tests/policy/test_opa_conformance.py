"""OPA's own conformance cases, run through alignops' engine interface.

The YAML files under ``opa_conformance/`` are unmodified copies from the Open Policy
Agent repository (see ``opa_conformance/SOURCES.md``). Each case loads its modules in
the version of its folder (v0 or v1), sets data and input, runs the query and compares
the bindings, or expects an error. Cases the engine gets wrong are listed in
``KNOWN_DIFFERENCES`` with the reason and run as strict xfails, so a fix in the
engine shows up as a failure to update the list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from alignops.errors import PolicyError
from alignops.policy.engine import ENGINES

ROOT = Path(__file__).parent / "opa_conformance"

_MISSING = "builtin not implemented by the engine (fails loudly: 'could not find function')"
KNOWN_DIFFERENCES: dict[str, str] = {
    "v1/array/flatten empty array": _MISSING,
    "v1/array/flatten only arrays": _MISSING,
    "v1/array/flatten has nesting depth 1": _MISSING,
    "v1/array/flatten mixed types": _MISSING,
    **{
        f"v1/strings/split_n/{name}": _MISSING
        for name in [
            "positive_basic",
            "positive_one",
            "positive_exact",
            "positive_more_than_parts",
            "zero",
            "negative_basic",
            "negative_one",
            "negative_exact",
            "negative_more_than_parts",
            "no_delimiter_found_positive",
            "no_delimiter_found_negative",
            "empty_string",
            "empty_delimiter_positive",
            "empty_delimiter_negative",
            "usecase_positive",
            "usecase_negative",
        ]
    },
    "v1/jsonbuiltins/json is_valid not string": "errors on a non-string where OPA says false",
    "v1/jsonbuiltins/yaml is_valid not string": "errors on a non-string where OPA says false",
    "v1/jsonbuiltins/yaml is_valid unreachable content": (
        "calls a multi-document YAML string invalid where OPA says valid"
    ),
    "v1/regexmatch/regex.match bad RE": (
        "errors on an invalid regex where OPA is undefined (alignops then fails closed)"
    ),
}


def _cases() -> list[Any]:
    params = []
    for path in sorted(ROOT.glob("v*/**/*.y*ml")):
        version = path.relative_to(ROOT).parts[0]
        for case in yaml.safe_load(path.read_text())["cases"]:
            note = f"{version}/{case['note']}"
            marks = []
            if note in KNOWN_DIFFERENCES:
                marks.append(pytest.mark.xfail(reason=KNOWN_DIFFERENCES[note], strict=True))
            for engine in ENGINES:
                params.append(
                    pytest.param(engine, version, case, id=f"{engine}:{note}", marks=marks)
                )
    return params


def _canonical(value: Any) -> Any:
    """Order-insensitive form for sort_bindings: lists become sorted JSON strings."""
    if isinstance(value, list):
        return sorted(json.dumps(_canonical(v), sort_keys=True) for v in value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    return value


def _term(engine_name: str, term: str) -> Any:
    """A Rego term (``input_term``) as JSON, evaluated by the engine itself."""
    results = ENGINES[engine_name]().eval_query(f"x := {term}")
    return results[0]["bindings"]["x"]


CASES = _cases()


def test_suite_is_big_enough() -> None:
    notes = {p.values[2]["note"] for p in CASES}
    assert len(notes) >= 30


@pytest.mark.parametrize(("engine_name", "version", "case"), CASES)
def test_conformance_case(engine_name: str, version: str, case: dict[str, Any]) -> None:
    engine = ENGINES[engine_name]()
    expects_error = "want_error_code" in case or "want_error" in case
    try:
        for i, module in enumerate(case.get("modules") or []):
            engine.add_module(f"test-{i}.rego", module, version=version)  # type: ignore[arg-type]
        engine.add_data(case.get("data") or {})
        if "input" in case:
            engine.set_input(case["input"])
        elif "input_term" in case:
            engine.set_input(_term(engine_name, case["input_term"]))
        results = engine.eval_query(case["query"])
    except PolicyError as exc:
        assert expects_error, f"unexpected error: {exc}"
        return
    assert not expects_error, f"expected error {case.get('want_error_code')}, got {results}"
    got = [r.get("bindings", {}) for r in results]
    want = case.get("want_result") or []
    if case.get("sort_bindings"):
        got, want = _canonical(got), _canonical(want)
        assert sorted(json.dumps(g, sort_keys=True) for g in got) == sorted(
            json.dumps(w, sort_keys=True) for w in want
        )
    else:
        assert got == want

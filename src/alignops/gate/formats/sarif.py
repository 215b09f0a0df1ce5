"""SARIF 2.1.0, for code-scanning UIs: one result per finding, waived ones suppressed."""

from __future__ import annotations

import json
from typing import Any

from alignops._version import __version__
from alignops.gate.verdict import Finding, Verdict

__all__ = ["render_sarif"]

_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"deny": "error", "warn": "warning"}


def _result(finding: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": finding.line}
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index[finding.rule],
        "level": _LEVEL[finding.severity],
        "message": {"text": f"{finding.resource}: {finding.message}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": finding.file, "uriBaseId": "%SRCROOT%"},
                    "region": region,
                },
                "logicalLocations": [{"name": finding.resource, "kind": "resource"}],
            }
        ],
        "properties": {"resource": finding.resource, "field": finding.field},
    }
    if finding.waiver is not None and finding.waived:
        result["suppressions"] = [
            {
                "kind": "external",
                "state": "accepted",
                "justification": (
                    f"Exception {finding.waiver.name} by {finding.waiver.owner} until "
                    f"{finding.waiver.expires_at.isoformat()}: {finding.waiver.reason}"
                ),
            }
        ]
    return result


def render_sarif(verdict: Verdict) -> str:
    rule_ids = sorted({*verdict.rules, *(f.rule for f in verdict.findings)})
    rule_index = {rule: i for i, rule in enumerate(rule_ids)}
    log = {
        "$schema": _SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "alignops",
                        "version": __version__,
                        "informationUri": "https://github.com/alignops/alignops",
                        "rules": [
                            {"id": rule, "name": rule, "shortDescription": {"text": rule}}
                            for rule in rule_ids
                        ],
                    }
                },
                "results": [_result(f, rule_index) for f in verdict.findings],
                "properties": {
                    "outcome": verdict.outcome,
                    "revision": verdict.revision,
                    "digest": verdict.digest,
                    **verdict.summary(),
                },
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"

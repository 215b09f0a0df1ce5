"""JUnit XML, for CI test reports: a test case per resource and rule.

Each checked resource is a test case that passes when no rule spoke about it; each rule
that spoke about a resource is its own case: a ``failure`` when it denies, ``skipped``
when its findings are waived. Warnings pass and are listed in the suite's
``system-out``. The document follows the Ant JUnit schema (windyroad ``JUnit.xsd``),
which GitLab, Jenkins and GitHub test reporters read.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from alignops.gate.verdict import Finding, Verdict

__all__ = ["render_junit"]


def _case(suite: ET.Element, name: str, classname: str, findings: list[Finding]) -> None:
    case = ET.SubElement(suite, "testcase", name=name, classname=classname, time="0")
    denied = [f for f in findings if f.severity == "deny" and not f.waived]
    waived = [f for f in findings if f.waived]
    if denied:
        failure = ET.SubElement(case, "failure", message=denied[0].message, type="deny")
        failure.text = "\n".join(f"{f.location}: {f.message}" for f in denied)
    elif waived and all(f.waived for f in findings):
        waiver = waived[0].waiver
        assert waiver is not None
        ET.SubElement(
            case, "skipped", message=f"waived by Exception {waiver.name}: {waiver.reason}"
        )


def render_junit(verdict: Verdict) -> str:
    by_resource: dict[str, list[Finding]] = defaultdict(list)
    for finding in verdict.findings:
        by_resource[finding.resource].append(finding)
    root = ET.Element("testsuites")
    suite = ET.SubElement(
        root,
        "testsuite",
        name="alignops check",
        package="alignops",
        id="0",
        timestamp=verdict.checked_at.strftime("%Y-%m-%dT%H:%M:%S"),
        hostname="alignops",
        time="0",
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("outcome", verdict.outcome),
        ("revision", verdict.revision),
        ("label", verdict.label),
        ("digest", verdict.digest),
        ("base", verdict.base or ""),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    for rid in sorted({*verdict.resources_checked, *by_resource}):
        by_rule: dict[str, list[Finding]] = defaultdict(list)
        for finding in by_resource.get(rid, []):
            by_rule[finding.rule].append(finding)
        if not by_rule:
            _case(suite, rid, rid, [])
        for rule, rule_findings in sorted(by_rule.items()):
            _case(suite, f"{rid} {rule}", rid, rule_findings)
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", "0")
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    out = ET.SubElement(suite, "system-out")
    out.text = "\n".join(
        f"warning {f.location}: {f.resource}: {f.message}" for f in verdict.warnings
    )
    ET.SubElement(suite, "system-err")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

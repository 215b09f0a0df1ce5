"""Exceptions (waivers): which findings they waive, and which have expired.

A waiver names rule ids and resource ids (``*`` globs). While it has not expired the
findings it matches are reported as waived, never hidden, and do not count towards the
verdict. Once expired it stops applying: the findings count again and carry the
expired waiver, so the report says why they are back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from fnmatch import fnmatchcase

from alignops.gate.verdict import Finding, Waiver
from alignops.manifests.kinds import PolicyException
from alignops.manifests.loader import Resource

__all__ = ["apply_waivers"]


def apply_waivers(
    findings: Iterable[Finding], exceptions: Iterable[Resource], *, now: datetime
) -> list[Finding]:
    """Findings with the matching waiver attached; a live waiver is preferred."""
    candidates = []
    for resource in exceptions:
        model = resource.model
        assert isinstance(model, PolicyException)
        spec = model.spec
        waiver = Waiver(
            name=model.name,
            file=resource.file,
            line=resource.line,
            reason=spec.reason,
            owner=spec.owner,
            expires_at=spec.expires_at,
            expired=spec.expires_at <= now,
        )
        candidates.append((spec.rules, spec.resources, waiver))
    candidates.sort(key=lambda c: c[2].expired)  # live waivers first
    out = []
    for finding in findings:
        match = next(
            (
                waiver
                for rules, resources, waiver in candidates
                if any(fnmatchcase(finding.rule, r) for r in rules)
                and any(fnmatchcase(finding.resource, r) for r in resources)
            ),
            None,
        )
        out.append(replace(finding, waiver=match) if match else finding)
    return out

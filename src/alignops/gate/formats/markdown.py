"""Markdown for a pull-request comment: verdict first, then what to fix, waivers folded."""

from __future__ import annotations

from alignops.gate.verdict import Finding, Verdict

__all__ = ["render_markdown"]

_HEADLINE = {
    "pass": "✅ **alignops: pass**",
    "warn": "⚠️ **alignops: pass with warnings**",
    "deny": "❌ **alignops: deny**",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(findings: list[Finding]) -> list[str]:
    rows = [
        "| resource | rule | severity | message | location |",
        "|---|---|---|---|---|",
    ]
    for f in findings:
        rows.append(
            f"| `{_cell(f.resource)}` | `{_cell(f.rule)}` | {f.severity} | "
            f"{_cell(f.message)} | `{f.location}` |"
        )
    return rows


def render_markdown(verdict: Verdict) -> str:
    s = verdict.summary()
    revision = verdict.revision[:12] or verdict.label
    scope = (
        f"{s['resourcesChecked']} of {s['resourcesTotal']} resources (changed since "
        f"`{(verdict.base or '')[:12]}`)"
        if verdict.base
        else f"{s['resourcesChecked']} resources"
    )
    lines = [
        f"{_HEADLINE[verdict.outcome]} — `{revision}`",
        "",
        f"{s['denied']} denied · {s['warnings']} warnings · {s['waived']} waived · "
        f"{scope} · {s['rules']} rules",
        "",
    ]
    active = verdict.denied + verdict.warnings
    if active:
        lines += ["### Findings", "", *_table(active), ""]
    expired = [f for f in verdict.findings if f.waiver is not None and f.waiver.expired]
    if expired:
        lines += [
            "Expired waivers no longer apply: "
            + ", ".join(sorted({f"`{f.waiver.name}`" for f in expired if f.waiver})),
            "",
        ]
    if verdict.waived:
        lines += ["<details><summary>Waived findings</summary>", ""]
        lines += _table(verdict.waived)
        lines += [""]
        for f in verdict.waived:
            assert f.waiver is not None
            lines.append(
                f"- `{f.resource}` `{f.rule}`: Exception `{f.waiver.name}` "
                f"({f.waiver.owner}, until {f.waiver.expires_at:%Y-%m-%d}): "
                f"{_cell(f.waiver.reason)}"
            )
        lines += ["", "</details>", ""]
    return "\n".join(lines)

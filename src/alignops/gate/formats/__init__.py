"""Verdicts rendered for machines and reviewers: JSON, SARIF 2.1.0, JUnit XML, Markdown.

The terminal table is drawn by the CLI; everything here is plain text out.
"""

from __future__ import annotations

from collections.abc import Callable

from alignops.gate.formats.json import render_json
from alignops.gate.formats.junit import render_junit
from alignops.gate.formats.markdown import render_markdown
from alignops.gate.formats.sarif import render_sarif
from alignops.gate.verdict import Verdict

__all__ = ["RENDERERS", "render_json", "render_junit", "render_markdown", "render_sarif"]

RENDERERS: dict[str, Callable[[Verdict], str]] = {
    "json": render_json,
    "sarif": render_sarif,
    "junit": render_junit,
    "markdown": render_markdown,
}

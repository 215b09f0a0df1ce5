"""The verdict as JSON (the shape of :meth:`Verdict.to_dict`)."""

from __future__ import annotations

import json

from alignops.gate.verdict import Verdict

__all__ = ["render_json"]


def render_json(verdict: Verdict) -> str:
    return json.dumps(verdict.to_dict(), indent=2, sort_keys=False) + "\n"

"""Gitignore-style globs over repository paths: ``*``, ``?``, ``**`` across folders."""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["glob_match"]


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def glob_match(pattern: str, path: str) -> bool:
    """Whether ``path`` matches ``pattern``; a pattern ending in ``/`` matches a folder's files."""
    if pattern.endswith("/"):
        pattern += "**"
    return _compile(pattern).match(path) is not None

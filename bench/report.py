"""Write a benchmark's table into docs/performance.md between its markers."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from pathlib import Path


def write_section(doc: Path, name: str, body: str) -> None:
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    text = doc.read_text() if doc.exists() else ""
    stamp = (
        f"_Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, "
        f"{__import__('os').cpu_count()} CPUs, Python {platform.python_version()}._"
    )
    block = f"{start}\n{stamp}\n\n{body}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip() + f"\n\n{block}\n"
    doc.write_text(text)

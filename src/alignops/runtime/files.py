"""Files the supervisor and the activator hand to service processes."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

__all__ = ["log_tail", "write_atomic"]


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(temporary, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def log_tail(log: Path, lines: int = 15) -> str:
    """The last lines of a process's log, as a paragraph to append to an error message."""
    try:
        text = log.read_text(errors="replace").strip()
    except OSError:
        return ""
    if not text:
        return ""
    return f"\nlast lines of {log}:\n" + "\n".join(text.splitlines()[-lines:])

"""What every command shares: consoles, ``--output``, errors → messages and exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console

from alignops.errors import AlignOpsError

__all__ = [
    "EXIT_DENY",
    "EXIT_INPUT",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "Format",
    "OutputOption",
    "console",
    "errors_reported",
    "print_json",
    "stderr",
]

EXIT_OK, EXIT_DENY, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

console = Console(highlight=False, soft_wrap=False)
stderr = Console(stderr=True, highlight=False)


class Format(StrEnum):
    text = "text"
    json = "json"


OutputOption = Annotated[
    Format, typer.Option("--output", "-o", help="Output format.", case_sensitive=False)
]


_MAX_LINES = 60


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


@contextmanager
def errors_reported(output: str = "text") -> Iterator[None]:
    """Turn an :class:`AlignOpsError` into its message (or JSON) and its exit code."""
    try:
        yield
    except AlignOpsError as exc:
        if output == "json":
            print_json(exc.to_dict())
        else:
            lines = str(exc).splitlines() or [""]
            if len(lines) > _MAX_LINES:
                hidden = len(lines) - _MAX_LINES
                lines = [*lines[:_MAX_LINES], f"… and {hidden} more (all of them with -o json)"]
            stderr.print("[bold red]error:[/] ", end="")
            stderr.print("\n".join(lines), markup=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None

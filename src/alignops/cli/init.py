"""``alignops init``: scaffold a config repository."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alignops.cli.output import Format, OutputOption, console, errors_reported, print_json
from alignops.scaffold import TEMPLATES, scaffold

__all__ = ["init_command"]


def init_command(
    directory: Annotated[Path, typer.Argument(help="New folder for the config repository.")],
    example: Annotated[
        str, typer.Option(help=f"Template to start from: {', '.join(TEMPLATES)}.")
    ] = "basic",
    output: OutputOption = Format.text,
) -> None:
    """Create a config repository: git init, alignops.yaml, example manifests and
    policies, first commit."""
    with errors_reported(output.value):
        repo = scaffold(directory, template=example)
    if output == Format.json:
        print_json({"path": str(repo.root), "commit": repo.head(), "branch": repo.branch()})
        return
    console.print(f"[bold green]created[/] {repo.root} at {repo.head()[:12]} (branch main)")
    console.print(f"next: cd {directory} && alignops check && alignops policy test")

"""``alignops schema``: JSON Schema of the manifests, for editors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from alignops.cli.output import console, errors_reported, print_json
from alignops.errors import UsageError
from alignops.manifests import KINDS
from alignops.manifests.schema import config_schema, kind_schema, manifest_schema

__all__ = ["schema_command"]


def schema_command(
    kind: Annotated[
        str | None,
        typer.Argument(help="One kind (e.g. Model), or 'config' for alignops.yaml. Default: all."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write manifest.json, alignops.yaml.json and one file per kind here."),
    ] = None,
) -> None:
    """Print the JSON Schema of alignops manifests (or write them all with --out)."""
    with errors_reported():
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            files = {"manifest.json": manifest_schema(), "alignops.yaml.json": config_schema()}
            files.update({f"{k}.json": kind_schema(k) for k in KINDS})
            for name, schema in files.items():
                (out / name).write_text(json.dumps(schema, indent=2) + "\n")
            console.print(f"wrote {len(files)} schemas to {out}")
            return
        if kind is None:
            print_json(manifest_schema())
        elif kind == "config":
            print_json(config_schema())
        elif kind in KINDS:
            print_json(kind_schema(kind))
        else:
            raise UsageError(f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}, config")

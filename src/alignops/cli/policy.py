"""``alignops policy``: work on the Rego policies of a config repository."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from alignops.cli.context import RepoOption, open_repository
from alignops.cli.output import (
    EXIT_DENY,
    Format,
    OutputOption,
    console,
    errors_reported,
    print_json,
)
from alignops.policy import PolicySet
from alignops.policy.testing import run_tests

__all__ = ["policy_app"]

policy_app = typer.Typer(help="Test and inspect Rego policies.", no_args_is_help=True)

_STYLE = {"pass": "green", "fail": "bold red", "error": "bold red", "skip": "yellow"}


@policy_app.command("test")
def run_policy_tests(
    revision: Annotated[
        str | None, typer.Argument(help="Revision to test. Default: the working tree.")
    ] = None,
    run: Annotated[
        str | None, typer.Option("--run", "-r", help="Only tests whose id matches this regex.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every test.")] = False,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
) -> None:
    """Run the test_* rules of the policies, like `opa test`. Exit 1 if any fails."""
    started = time.perf_counter()
    with errors_reported(output.value):
        snapshot = open_repository(repo).snapshot(revision)
        policies = PolicySet.load(snapshot)
        results = run_tests(policies, match=run)
    elapsed = time.perf_counter() - started
    counts = {
        s: sum(1 for r in results if r.status == s) for s in ("pass", "fail", "error", "skip")
    }
    if output == Format.json:
        print_json({"summary": counts, "tests": [r.to_dict() for r in results]})
    else:
        shown = [r for r in results if verbose or r.status in ("fail", "error")]
        if shown:
            table = Table()
            for column in ("status", "test", "location", "message"):
                table.add_column(column, overflow="fold")
            for r in shown:
                table.add_row(
                    f"[{_STYLE[r.status]}]{r.status.upper()}[/]",
                    r.rule.id,
                    f"{r.rule.module}:{r.rule.line}",
                    r.message,
                )
            console.print(table)
        ran = counts["pass"] + counts["fail"] + counts["error"]
        status = (
            "[bold green]PASS[/]"
            if not (counts["fail"] or counts["error"])
            else "[bold red]FAIL[/]"
        )
        console.print(
            f"{status}: {counts['pass']}/{ran} passed"
            + (f", {counts['skip']} skipped" if counts["skip"] else "")
            + f" in {elapsed:.2f}s"
        )
    if counts["fail"] or counts["error"]:
        raise typer.Exit(EXIT_DENY)

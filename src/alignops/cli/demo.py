"""``alignops demo``: the loop end to end on embedded defaults.

Today: scaffold a config repository, commit a change the gate passes and one it
denies, show both verdicts, the policy tests, the PR comment and the audit log.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.rule import Rule
from rich.text import Text

from alignops.audit import AuditLog
from alignops.cli.check import print_verdict, record_verdict
from alignops.cli.output import EXIT_DENY, console, errors_reported
from alignops.errors import UsageError
from alignops.gate import Verdict, check
from alignops.gate.formats import render_markdown
from alignops.policy import PolicySet
from alignops.policy.testing import run_tests
from alignops.scaffold import scaffold
from alignops.source import ConfigRepository
from alignops.store import Database, default_database_url

__all__ = ["demo_command"]

_MARKER = ".alignops-demo"

_REPORT_FUNCTION = """\
apiVersion: alignops.dev/v1alpha1
kind: ServerlessFunction
metadata:
  name: report-builder
  labels:
    team: ai-platform
spec:
  handler: functions.scorer:score
  memory: 256
  environment: staging
"""


def _step(title: str) -> None:
    console.print()
    console.print(Rule(f"[bold]{title}", align="left"))


def _gate(repo: ConfigRepository, audit: AuditLog, revision: str, base: str | None) -> Verdict:
    snapshot = repo.snapshot(revision)
    verdict = check(snapshot, base=repo.snapshot(base) if base else None)
    record_verdict(audit, verdict)
    print_verdict(verdict)
    return verdict


def _prepare(directory: Path) -> None:
    if directory.exists():
        if not (directory / _MARKER).exists():
            raise UsageError(
                f"{directory} exists and was not made by `alignops demo`; pick another --dir"
            )
        shutil.rmtree(directory)


def demo_command(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to build the demo config repository.")
    ] = Path("demo"),
) -> None:
    """Run the whole loop on embedded defaults and show each step."""
    with errors_reported():
        _prepare(directory)
        _step(f"1. alignops init {directory}")
        repo = scaffold(directory)
        (directory / _MARKER).write_text("made by `alignops demo`; safe to delete\n")
        console.print(f"config repository at {repo.root}, first commit {repo.head()[:12]}")
        audit = AuditLog(Database(default_database_url(repo.root)))

        _step("2. commit a change the gate passes: a 256 MB function")
        (directory / "functions" / "report.yaml").write_text(_REPORT_FUNCTION)
        passing = repo.commit_all("Add report-builder function (256 MB)")
        console.print(f"commit {passing[:12]}  Add report-builder function (256 MB)")
        first = _gate(repo, audit, passing, None)

        _step("3. commit a change the gate denies: the scorer asks for 1 GiB")
        scorer = directory / "functions" / "scorer.yaml"
        scorer.write_text(scorer.read_text().replace("memory: 256", "memory: 1024"))
        failing = repo.commit_all("Give the scorer 1 GiB")
        console.print(
            f"commit {failing[:12]}  Give the scorer 1 GiB  (checked against {passing[:12]})"
        )
        second = _gate(repo, audit, failing, passing)
        for finding in second.denied:
            console.print(f"denied: {finding.resource}: {finding.message}", soft_wrap=True)
        console.print(
            Panel(Text(render_markdown(second).strip()), title="PR comment (--output markdown)")
        )

        _step("4. alignops policy test")
        results = run_tests(PolicySet.load(repo.snapshot(failing)))
        for r in results:
            console.print(f"  {r.status.upper():5} {r.rule.id}")

        _step("5. alignops audit log / verify")
        for record in reversed(audit.records(limit=5)):
            console.print(
                f"  #{record.seq} {record.action} {record.subject[:12]} "
                f"{record.data.get('outcome', '')}  hash {record.hash[:12]}"
            )
        report = audit.verify()
        console.print(
            f"  chain {'intact' if report.ok else 'TAMPERED'}: {report.records} records, "
            f"head {report.head_hash[:12]}"
        )

    ok = first.outcome == "pass" and second.outcome == "deny" and report.ok
    ok = ok and all(r.status == "pass" for r in results)
    console.print()
    if ok:
        console.print(
            "[bold green]demo complete[/]: change 1 passed, change 2 was denied with the "
            "policy's message, the audit chain verifies."
        )
    else:
        console.print("[bold red]demo did not behave as expected[/]")
        raise typer.Exit(EXIT_DENY)

"""``alignops demo``: the loop end to end on embedded defaults.

Part 1, the policy gate: scaffold a config repository, commit a change the gate passes
and one it denies, show the verdicts, the policy tests, the PR comment and the audit log.

Part 2, responsible AI on real census data: the ``acs-employment`` example trains a
baseline model and a mitigated one; the gate computes fairness, explainability and
drift evidence, denies the baseline for its disparity by race, and passes the mitigated
model once two approvers from the two groups have signed.
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
from alignops.cli.approve import write_approval
from alignops.cli.check import evidence_index, print_verdict, record_verdict
from alignops.cli.context import evidence_store
from alignops.cli.output import EXIT_DENY, console, errors_reported
from alignops.cli.progress import progress_reporter
from alignops.errors import UsageError
from alignops.evidence.usage import save_usage
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
    store = evidence_store(repo)
    with progress_reporter() as progress:
        verdict = check(
            snapshot,
            base=repo.snapshot(base) if base else None,
            evidence_store=store,
            progress=progress,
        )
    record_verdict(audit, verdict)
    save_usage(audit.db, verdict.usage)
    store.record_revision(verdict.revision, evidence_index(verdict))
    print_verdict(verdict)
    return verdict


def _prepare(directory: Path) -> None:
    if directory.exists():
        if not (directory / _MARKER).exists():
            raise UsageError(
                f"{directory} exists and was not made by `alignops demo`; pick another --dir"
            )
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / _MARKER).write_text("made by `alignops demo`; safe to delete\n")


def _open(repo: ConfigRepository) -> AuditLog:
    return AuditLog(Database(default_database_url(repo.root)))


def _policy_gate(directory: Path) -> bool:
    _step(f"1. alignops init {directory}")
    repo = scaffold(directory)
    console.print(f"config repository at {repo.root}, first commit {repo.head()[:12]}")
    audit = _open(repo)

    _step("2. commit a change the gate passes: a 256 MB function")
    (directory / "functions" / "report.yaml").write_text(_REPORT_FUNCTION)
    passing = repo.commit_all("Add report-builder function (256 MB)")
    console.print(f"commit {passing[:12]}  Add report-builder function (256 MB)")
    first = _gate(repo, audit, passing, None)

    _step("3. commit a change the gate denies: the scorer asks for 1 GiB")
    scorer = directory / "functions" / "scorer.yaml"
    scorer.write_text(scorer.read_text().replace("memory: 256", "memory: 1024"))
    failing = repo.commit_all("Give the scorer 1 GiB")
    console.print(f"commit {failing[:12]}  Give the scorer 1 GiB  (checked against {passing[:12]})")
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
    return (
        first.outcome == "pass"
        and second.outcome == "deny"
        and report.ok
        and all(r.status == "pass" for r in results)
    )


def _model_status(verdict: Verdict) -> dict[str, list[str]]:
    status: dict[str, list[str]] = {}
    for model in verdict.evidence:
        status[model] = [f.message for f in verdict.denied if f.resource == f"Model/{model}"]
    return status


def _show_models(verdict: Verdict) -> None:
    for model, problems in _model_status(verdict).items():
        if problems:
            console.print(f"  [bold red]DENY[/] Model/{model}")
            for problem in problems:
                console.print(f"       {problem}", soft_wrap=True)
        else:
            console.print(f"  [bold green]PASS[/] Model/{model}")


def _responsible_ai(directory: Path) -> bool:
    _step(f"6. alignops init --example acs-employment {directory}")
    console.print("training two models on US Census data (ACS 2015, Massachusetts) …")
    repo = scaffold(directory, template="acs-employment")
    audit = _open(repo)
    console.print(f"config repository at {repo.root}, first commit {repo.head()[:12]}")

    _step("7. gate it: evidence is computed on the real models and data")
    first = _gate(repo, audit, repo.head(), None)
    _show_models(first)

    _step("8. the evidence: PSI per feature (production-2018 vs reference-2015), reports")
    fair = {e["check"]: e for e in first.evidence.get("employment-fair", [])}
    psi = fair["drift"]["metrics"]["psi"] if fair.get("drift", {}).get("metrics") else {}
    for feature, value in sorted(psi.items(), key=lambda kv: -kv[1]):
        console.print(f"  {feature:9} PSI {value:.4f}")
    store = evidence_store(repo)
    reports = directory / "reports"
    reports.mkdir(exist_ok=True)
    for model, items in first.evidence.items():
        for item in items:
            for name in item["artifacts"]:
                data = store.artifact(item["key"], name)
                if data:
                    (reports / f"{model}-{name}").write_bytes(data)
                    score = (item["metrics"] or {}).get("score")
                    console.print(
                        f"  {reports / f'{model}-{name}'}  (explainability score {score:.3f})"
                    )

    _step("9. two approvers from the two groups sign employment-fair")
    for person, group in (("ada", "ai-ethics-committee"), ("lin", "legal-compliance")):
        key = (directory / ".alignops" / "keys" / person).read_bytes()
        path, _ = write_approval(
            repo,
            "Model/employment-fair",
            key,
            group=group,
            comment="reviewed the evidence and the report",
        )
        console.print(f"  {person} ({group}) signed {path}")
    approved = repo.commit_all("Approve employment-fair")
    second = _gate(repo, audit, approved, None)
    _show_models(second)

    _step("10. retire the biased baseline; the revision passes")
    shutil.rmtree(directory / "models" / "employment-baseline")
    retired = repo.commit_all("Retire employment-baseline")
    third = _gate(repo, audit, retired, None)
    _show_models(third)
    status_first = _model_status(first)
    status_second = _model_status(second)
    return (
        any(
            "demographic parity difference by RAC1P" in m
            for m in status_first["employment-baseline"]
        )
        and not status_second["employment-fair"]
        and third.outcome != "deny"
    )


def demo_command(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to build the demo config repositories.")
    ] = Path("demo"),
) -> None:
    """Run the whole loop on embedded defaults and show each step."""
    with errors_reported():
        _prepare(directory)
        gate_ok = _policy_gate(directory / "basic")
        rai_ok = _responsible_ai(directory / "acs-employment")
    console.print()
    if gate_ok and rai_ok:
        console.print(
            "[bold green]demo complete[/]: the 256 MB change passed and the 1 GiB change was "
            "denied with the policy's message; the biased model was denied on measured "
            "disparity, the mitigated one passed with two signed approvals; audit chains verify."
        )
    else:
        console.print("[bold red]demo did not behave as expected[/]")
        raise typer.Exit(EXIT_DENY)

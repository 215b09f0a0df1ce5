"""``alignops demo``: the loop end to end on embedded defaults.

Part 1, the policy gate: scaffold a config repository, commit a change the gate passes
and one it denies, show the verdicts, the policy tests, the PR comment and the audit log.

Part 2, responsible AI on real census data: the ``acs-employment`` example trains a
baseline model and a mitigated one; the gate computes fairness, explainability and
drift evidence, denies the baseline for its disparity by race, and passes the mitigated
model once two approvers from the two groups have signed.

Part 3, delivery: the compliant revision is synced to production and served by the
local runtime (scaled to zero, started by the first request); real requests get
predictions; a non-compliant model version is committed and refused while the old one
keeps serving; ``rollback`` commits the revert to the last compliant version. The
services keep running afterwards (``alignops status`` / ``alignops down``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
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
from alignops.cli.deliver import gate_evidence
from alignops.cli.deliver_output import print_status, print_sync, status_rows
from alignops.cli.demo_finops import account_for_costs
from alignops.cli.demo_monitor import watch_live_traffic
from alignops.cli.output import EXIT_DENY, console, errors_reported
from alignops.cli.progress import progress_reporter
from alignops.errors import UsageError
from alignops.evidence.usage import save_usage
from alignops.gate import Verdict, check
from alignops.gate.formats import render_markdown
from alignops.policy import PolicySet
from alignops.policy.testing import run_tests
from alignops.reconcile.providers import LocalProvider, ProviderContext
from alignops.reconcile.rollback import rollback
from alignops.reconcile.sync import SyncResult, open_providers, plan_environment, sync
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
        for previous in directory.iterdir():  # the services a previous run left serving
            if (previous / ".alignops").is_dir():
                _shutdown(ConfigRepository(previous))
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


def _shutdown(repo: ConfigRepository) -> list[str]:
    audit = _open(repo)
    try:
        context = ProviderContext(repo.root / ".alignops", audit.db)
        providers = open_providers(repo.snapshot("HEAD"), context)
        return [m for p in providers.values() if isinstance(p, LocalProvider) for m in p.shutdown()]
    finally:
        audit.db.close()


def _request(url: str, rows: list[dict[str, object]]) -> dict[str, object]:
    import httpx  # the runtime extra; not needed to start the command line

    started = time.perf_counter()
    response = httpx.post(f"{url}/predict", json={"rows": rows}, timeout=60)
    elapsed = (time.perf_counter() - started) * 1000
    answer = dict(response.json())
    answer["status"] = response.status_code
    answer["ms"] = elapsed
    answer["coldStartMs"] = response.headers.get("x-alignops-cold-start")
    return answer


def _delivery(directory: Path) -> bool:
    import pandas as pd  # slow to import: only the demo needs it here

    repo = ConfigRepository(directory)
    audit = _open(repo)
    store, on_verdict = gate_evidence(repo)
    service = "ModelDeployment/employment-fair"
    with progress_reporter() as progress:
        context = ProviderContext(repo.root / ".alignops", audit.db, progress)

        def deliver() -> SyncResult:
            return sync(
                repo.snapshot("HEAD"),
                environment="production",
                context=context,
                audit=audit,
                evidence_store=store,
                on_verdict=on_verdict,
            )

        _step("11. alignops sync --env production: the compliant revision goes live")
        first = deliver()
    print_sync(first)
    live = open_providers(repo.snapshot("HEAD"), context)["local"].live("production")
    url = str(live[service].details["url"]) if service in live else ""
    console.print(f"  {service} scales to zero at {url}")

    _step("12. real requests: three people from the 2018 survey")
    features = list(pd.read_parquet(directory / "data" / "production-2018.parquet").columns)
    frame = pd.read_parquet(directory / "data" / "production-2018.parquet").head(3)
    model_features = [c for c in features if c not in ("id", "year", "employed")]
    rows = frame[model_features].to_dict("records")
    console.print(
        f"  curl -s -X POST {url}/predict -H 'content-type: application/json' "
        f"-d '{json.dumps({'rows': rows[:1]})}'",
        soft_wrap=True,
    )
    cold = _request(url, rows)
    warm = _request(url, rows)
    console.print(
        f"  HTTP {cold['status']}: predictions {cold.get('predictions')} from "
        f"{cold.get('model')} {cold.get('version')} (revision {str(cold.get('revision'))[:12]})"
    )
    console.print(
        f"  first request {cold['ms']:.0f} ms (a cold start of {cold['coldStartMs']} ms: the "
        f"process started for it), the next {warm['ms']:.0f} ms"
    )
    _status(repo, context)

    _step("13. commit a non-compliant version: the baseline's model as employment-fair 2.0.0")
    # The baseline was retired in step 10: its model is in the commit before.
    baseline = repo.snapshot("HEAD~1").read("models/employment-baseline/model.skops")
    (directory / "models" / "employment-fair" / "model.skops").write_bytes(baseline)
    manifest = directory / "models" / "employment-fair" / "model.yaml"
    text = manifest.read_text()
    old_digest = text.split('sha256: "', 1)[1].split('"', 1)[0]
    manifest.write_text(
        text.replace('version: "1.0.0"', 'version: "2.0.0"').replace(
            old_digest, hashlib.sha256(baseline).hexdigest()
        )
    )
    bad = repo.commit_all("employment-fair 2.0.0: retrained without group thresholds")
    console.print(f"commit {bad[:12]}  employment-fair 2.0.0: retrained without group thresholds")
    with progress_reporter() as progress:
        context = ProviderContext(repo.root / ".alignops", audit.db, progress)
        refused = deliver()
    print_sync(refused)
    for denial in refused.denials[:3]:
        console.print(f"  denied: {denial['resource']}: {denial['message']}", soft_wrap=True)
    still = _request(url, rows)
    console.print(
        f"  meanwhile {url} still answers with {still.get('model')} {still.get('version')}"
    )

    _step("14. alignops rollback employment-fair: Git goes back to the last compliant version")
    done = rollback(repo, "employment-fair", "production", audit, evidence_store=store)
    console.print(
        f"  committed {str(done.commit)[:12]} on {done.branch}: restores "
        f"{done.to_revision[:12]} ({', '.join(f'{p} {w}' for p, w in done.files.items())})",
        soft_wrap=True,
    )
    with progress_reporter() as progress:
        context = ProviderContext(repo.root / ".alignops", audit.db, progress)
        after = deliver()
    print_sync(after)
    back = _request(url, rows)
    console.print(f"  {url} answers with {back.get('model')} {back.get('version')}")
    _status(repo, context)

    _step("15. alignops history, alignops audit verify")
    for record in audit.records(action="sync.finished", subject="production", limit=5):
        data = record.data
        console.print(
            f"  #{record.seq} {data['outcome']:8} {str(data['revision'])[:12]} "
            f"verdict {data['verdict']}"
        )
    report = audit.verify()
    console.print(f"  chain {'intact' if report.ok else 'TAMPERED'}: {report.records} records")
    watched = watch_live_traffic(repo, audit, url, model_features, _step)
    accounted = account_for_costs(repo, _step)
    console.print(
        f"\n  still serving: curl -X POST {url}/predict …;  alignops status --repo {directory} "
        f"--env production;  alignops monitor status --repo {directory};  alignops alerts "
        f"list --state all --repo {directory};  stop everything with: alignops down --repo "
        f"{directory}",
        soft_wrap=True,
    )
    audit.db.close()
    return (
        watched
        and accounted
        and first.outcome == "synced"
        and cold["status"] == 200
        and cold.get("version") == "1.0.0"
        and refused.outcome == "refused"
        and still.get("version") == "1.0.0"
        and done.outcome == "committed"
        and after.outcome == "synced"
        and back.get("version") == "1.0.0"
        and report.ok
    )


def _status(repo: ConfigRepository, context: ProviderContext) -> None:
    snapshot = repo.snapshot("HEAD")
    providers = open_providers(snapshot, context)
    planned = plan_environment(snapshot, "production", providers)
    print_status("production", status_rows(planned, providers))


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
        delivery_ok = rai_ok and _delivery(directory / "acs-employment")
    console.print()
    if gate_ok and rai_ok and delivery_ok:
        console.print(
            "[bold green]demo complete[/]: the 256 MB change passed and the 1 GiB change was "
            "denied with the policy's message; the biased model was denied on measured "
            "disparity, the mitigated one passed with two signed approvals; it was served, "
            "answered real requests, the non-compliant 2.0.0 was refused while 1.0.0 kept "
            "serving, and rollback put Git back on 1.0.0; replayed survey years drifted, the "
            "alert reached Slack once per window with a retraining branch, and resolved; "
            "the FOCUS bill and our own usage share one ledger, allocated to the cent, the "
            "dev budget's thresholds reached Slack once each; audit chains verify."
        )
    else:
        console.print("[bold red]demo did not behave as expected[/]")
        raise typer.Exit(EXIT_DENY)

"""``alignops evidence``: compute and show the responsible-AI evidence of a revision."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from alignops.cli.context import (
    DbOption,
    RepoOption,
    evidence_store,
    open_audit_log,
    open_repository,
)
from alignops.cli.output import Format, OutputOption, console, errors_reported, print_json
from alignops.cli.progress import progress_reporter
from alignops.evidence.collect import EvidenceBundle, collect
from alignops.evidence.usage import save_usage
from alignops.gate.requirements import policies_for, requests_for
from alignops.manifests.snapshot import Snapshot

__all__ = ["evidence_app"]

evidence_app = typer.Typer(help="Compute and show responsible-AI evidence.", no_args_is_help=True)

RevisionArgument = Annotated[
    str | None, typer.Argument(help="Revision. Default: the working tree.")
]
ModelOption = Annotated[
    list[str] | None, typer.Option("--model", "-m", help="Only these models (repeatable).")
]


def _bundles(
    snapshot: Snapshot,
    models: list[str] | None,
    *,
    compute: bool,
    refresh: bool,
    store: Any,
    progress: Any,
) -> dict[str, EvidenceBundle]:
    out = {}
    for resource in snapshot.of_kind("Model"):
        if models and resource.name not in models:
            continue
        policies = policies_for(snapshot, resource)
        if not policies:
            continue
        requests = list(dict.fromkeys(requests_for(snapshot, resource, policies).values()))
        out[resource.name] = collect(
            snapshot,
            resource,
            requests,
            store=store,
            progress=progress,
            compute=compute,
            refresh=refresh,
        )
    return out


def _fmt(value: Any, digits: int = 4) -> str:
    return (
        "—" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    )


def _print(bundles: dict[str, EvidenceBundle], store: Any, report_dir: Path | None) -> None:
    for name, bundle in bundles.items():
        table = Table(
            title=f"Model/{name}  (sha256 {bundle.model_digest[:12]}…)", title_justify="left"
        )
        for column in ("check", "result", "evidence key"):
            table.add_column(column, overflow="fold")
        for item in bundle.items.values():
            if item.metrics is None:
                table.add_row(item.check, f"[red]{item.error}[/]", item.key[:12])
                continue
            m = item.metrics
            if item.check == "fairness":
                lines = []
                for attribute, r in m["attributes"].items():
                    lo, hi = r["interval"]["dpDifference"]
                    lines.append(
                        f"{attribute}: DP difference {r['dpDifference']:.4f} [{lo:.4f}, {hi:.4f}], "
                        f"ratio {r['dpRatio']:.3f}, EO difference {_fmt(r.get('eoDifference'))}"
                    )
                text = "\n".join(lines)
            elif item.check == "explainability":
                validity = "valid" if m["valid"] else "invalid: " + "; ".join(m["reasons"])
                additivity = "holds" if m["additivity"]["ok"] else "fails"
                text = (
                    f"score {_fmt(m['score'], 3)} ({validity}); fidelity {m['fidelity']:.3f}, "
                    f"additivity {additivity}, top-{m['stability']['topK']} Jaccard ≥ "
                    f"{m['stability']['minJaccard']:.2f}"
                )
            elif item.check == "drift":
                top = sorted(m["psi"].items(), key=lambda kv: -kv[1])
                text = f"PSI of {m['current']} vs {m['reference']}: " + ", ".join(
                    f"{f} {v:.4f}" for f, v in top
                )
            else:
                text = ", ".join(
                    f"{k} {_fmt(v)}"
                    for k, v in m.items()
                    if k in ("accuracy", "rocAuc", "f1", "rmse", "mae")
                )
            if item.artifacts:
                text += "\nartifacts: " + ", ".join(item.artifacts)
            table.add_row(item.check + (" (cached)" if item.cached else ""), text, item.key[:12])
            if report_dir is not None:
                for artifact in item.artifacts:
                    data = store.artifact(item.key, artifact)
                    if data is not None:
                        report_dir.mkdir(parents=True, exist_ok=True)
                        target = report_dir / f"{name}-{artifact}"
                        target.write_bytes(data)
                        console.print(f"wrote {target}")
        console.print(table)


@evidence_app.command("compute")
def compute_command(
    revision: RevisionArgument = None,
    model: ModelOption = None,
    refresh: Annotated[bool, typer.Option(help="Recompute even what is stored.")] = False,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Compute the evidence the policies ask for, for every model they select."""
    with errors_reported(output.value):
        repository = open_repository(repo)
        snapshot = repository.snapshot(revision)
        store = evidence_store(repository)
        with progress_reporter(quiet=output == Format.json) as progress:
            bundles = _bundles(
                snapshot, model, compute=True, refresh=refresh, store=store, progress=progress
            )
        usage = [u for b in bundles.values() for u in b.usage]
        save_usage(open_audit_log(db, repository.root).db, usage)
        if not snapshot.worktree:
            index = [
                {"model": n, "check": i.check, "key": i.key}
                for n, b in bundles.items()
                for i in b.items.values()
                if i.metrics is not None
            ]
            store.record_revision(snapshot.revision, index)
    _emit(bundles, store, output, None)


@evidence_app.command("show")
def show_command(
    revision: RevisionArgument = None,
    model: ModelOption = None,
    report: Annotated[
        Path | None, typer.Option(help="Write the reports (PDF/HTML) into this folder.")
    ] = None,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
) -> None:
    """Show stored evidence (nothing is computed)."""
    with errors_reported(output.value):
        repository = open_repository(repo)
        snapshot = repository.snapshot(revision)
        store = evidence_store(repository)
        bundles = _bundles(
            snapshot, model, compute=False, refresh=False, store=store, progress=None
        )
    _emit(bundles, store, output, report)


def _emit(
    bundles: dict[str, EvidenceBundle], store: Any, output: Format, report: Path | None
) -> None:
    if output == Format.json:
        print_json(
            {
                name: {
                    "modelDigest": b.model_digest,
                    "evidence": [i.to_dict() for i in b.items.values()],
                    "usage": [u.to_dict() for u in b.usage],
                }
                for name, b in bundles.items()
            }
        )
        return
    if not bundles:
        console.print("no model is selected by a ModelDeploymentPolicy")
        return
    _print(bundles, store, report)

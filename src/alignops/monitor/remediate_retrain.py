"""A retraining request: a branch with one commit adding a markdown description.

The branch ``alignops/retrain/<deployment>-<YYYYMMDD>-<alert id>`` starts at the tip of
the environment's branch and adds ``retraining/<deployment>-<YYYYMMDD>.md``: which
features drifted and by how much (a table of the windows), since when, the threshold and
the policy it comes from, the model version serving and the revision, and what to do —
retrain on recent data, starting from the data the model was trained on. The
environment's branch is not touched: the request is merged (or deleted) by a person, and
the gate checks the new model version like any change (decision 0032).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from alignops.errors import AlignOpsError, SourceError
from alignops.manifests.config import Environment
from alignops.manifests.kinds import Dataset, Model, ModelDeploymentPolicy
from alignops.manifests.snapshot import Snapshot
from alignops.monitor.remediate_facts import AlertFacts, RemediationOutcome, first_line, trailers
from alignops.reconcile.desired import desired_state
from alignops.source import ConfigRepository

__all__ = [
    "MAX_FEATURE_COLUMNS",
    "MAX_WINDOW_ROWS",
    "open_retraining_request",
    "request_path",
    "retrain_branch",
    "retraining_request",
]

MAX_WINDOW_ROWS = 24
"""Most windows in the request's table (the newest; the first is always named)."""
MAX_FEATURE_COLUMNS = 8
"""Most features with a column of their own (the most drifted; the rest are listed)."""

_REQUIREMENT = {"psi": "DataDriftMonitoring", "parity": "BiasDetection"}


def retrain_branch(facts: AlertFacts, now: datetime) -> str:
    """``alignops/retrain/<deployment>-<YYYYMMDD>-<alert id>``."""
    return f"alignops/retrain/{facts.name}-{now:%Y%m%d}-{facts.alert_id}"


def request_path(facts: AlertFacts, now: datetime, existing: Mapping[str, str]) -> str:
    """``retraining/<deployment>-<YYYYMMDD>.md``, or with ``-<alert id>`` when a request
    of that day is already in the branch (an earlier alert's, merged)."""
    path = f"retraining/{facts.name}-{now:%Y%m%d}.md"
    if path in existing:
        path = f"retraining/{facts.name}-{now:%Y%m%d}-{facts.alert_id}.md"
    return path


def open_retraining_request(
    facts: AlertFacts,
    *,
    repository: ConfigRepository,
    environment: Environment,
    automatic: bool,
    now: datetime,
    progress: Callable[[str], None],
) -> RemediationOutcome:
    """Create the request's branch (module docstring). An existing branch of the same
    alert is reported as ``skipped`` with its commit: a request is written once."""
    branch = retrain_branch(facts, now)
    existing = _existing(repository, branch)
    if existing is not None:
        commit, message = existing
        if f"Alignops-Alert: {facts.alert_id}\n" in message:
            return RemediationOutcome(
                "retrain",
                automatic,
                "skipped",
                branch,
                commit,
                f"a retraining request for alert {facts.alert_id} is already on branch "
                f"{branch} (commit {commit[:12]}); nothing new was written",
            )
        raise SourceError(
            f"branch {branch} already exists and is not alert {facts.alert_id}'s request; "
            "delete or rename it, then run the remediation again"
        )
    tip = repository.snapshot(f"refs/heads/{environment.branch}")
    serving = _serving_snapshot(repository, facts, tip)
    path = request_path(facts, now, tip.files)
    text = retraining_request(facts, serving, environment, branch=branch, now=now)
    progress(f"{facts.name}: writing {path} on a new branch {branch}")
    commit = repository.create_branch(
        branch, {path: text.encode()}, _message(facts, path), parent=tip.revision
    )
    return RemediationOutcome(
        "retrain",
        automatic,
        "done",
        branch,
        commit,
        f"wrote the retraining request {path} on branch {branch} (commit {commit[:12]}, "
        f"from {environment.branch} at {tip.short}); retrain, commit the new model version "
        f"there and merge it into {environment.branch}",
        (path,),
    )


def _existing(repository: ConfigRepository, branch: str) -> tuple[str, str] | None:
    """(commit, message) of the branch's tip, or None if there is no such branch."""
    try:
        commit = repository.resolve(f"refs/heads/{branch}")
    except SourceError:
        return None
    return str(commit.id), str(commit.message)


def _serving_snapshot(repository: ConfigRepository, facts: AlertFacts, tip: Snapshot) -> Snapshot:
    """The revision that served when the rule broke; the branch tip if it cannot be read
    (a revision fetched elsewhere, or one that no longer loads)."""
    try:
        return repository.snapshot(facts.revision)
    except AlignOpsError:
        return tip


# -- the markdown -----------------------------------------------------------------------


def retraining_request(
    facts: AlertFacts, snapshot: Snapshot, environment: Environment, *, branch: str, now: datetime
) -> str:
    """The request's markdown: what drifted, by how much, since when, what to do."""
    models = _models(snapshot, facts, environment)
    threshold = _threshold(facts)
    policy = facts.source or _policy_source(snapshot, models, facts.metric)
    drifted = _drifted(facts, threshold)
    lines = [
        f"# Retraining request: {facts.name} in {environment.name}",
        "",
        f"{facts.headline}",
        "",
        "| | |",
        "|---|---|",
        f"| deployment | `ModelDeployment/{facts.name}` in `{environment.name}` "
        f"(branch `{environment.branch}`) |",
        "| serving | "
        + (", ".join(f"`{m.name}` {m.version} ({m.percent} %)" for m in models) or "unknown")
        + " |",
        f"| revision | `{facts.revision}` |",
        f"| metric | `{facts.metric}` |",
        f"| threshold | {_number(threshold)}"
        + (f", from `{policy}`" if policy else "")
        + f" (rule `{_cell(facts.rule)}`) |",
        f"| since | {facts.since.isoformat()} (the first window that broke the rule) |",
        f"| windows | {len(facts.series)} observed, {_broken(facts, threshold)} over the "
        "threshold |",
        "",
        "## What drifted" if facts.metric == "psi" else "## What broke the rule",
        "",
    ]
    noun = _noun(facts)
    if drifted:
        names = ", ".join(f"`{_cell(f)}` (up to {_number(v)})" for f, v in drifted)
        lines += [f"{noun[0].upper()}{noun[1:]} over {_number(threshold)}: {names}.", ""]
    elif any(_parts(entry) for entry in facts.series):
        lines += [f"None of the {noun} went over {_number(threshold)} on its own.", ""]
    lines += _table(facts, drifted, threshold)
    lines += ["", "## What to do", ""]
    lines += _steps(facts, snapshot, models, environment, branch)
    lines += [
        "",
        "---",
        "",
        f"Written by alignops for alert {facts.alert_id} on {now:%Y-%m-%d}.",
        "",
    ]
    return "\n".join(lines)


def _models(snapshot: Snapshot, facts: AlertFacts, environment: Environment) -> list[Any]:
    try:
        service = desired_state(snapshot, environment.name).get(f"ModelDeployment/{facts.name}")
    except AlignOpsError:
        return []
    return list(service.models) if service is not None else []


def _threshold(facts: AlertFacts) -> float:
    values = [float(e["threshold"]) for e in facts.series if _is_number(e.get("threshold"))]
    return values[-1] if values else math.nan


def _broken(facts: AlertFacts, threshold: float) -> int:
    return sum(
        1
        for e in facts.series
        if isinstance(e.get("value"), int | float) and e["value"] > threshold
    )


def _parts(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    """A window's value by feature (drift) or by protected attribute (fairness)."""
    parts = entry.get("features") or entry.get("attributes") or {}
    return parts if isinstance(parts, Mapping) else {}


def _noun(facts: AlertFacts) -> str:
    if facts.metric == "psi":
        return "features whose PSI went"
    if any(entry.get("attributes") for entry in facts.series):
        return f"protected attributes whose {facts.metric} went"
    return f"parts whose {facts.metric} went"


def _drifted(facts: AlertFacts, threshold: float) -> list[tuple[str, float]]:
    """Features (or attributes) over the threshold in any window, the worst first, with
    their highest value."""
    worst: dict[str, float] = {}
    for entry in facts.series:
        for name, value in _parts(entry).items():
            if _is_number(value) and not math.isnan(value):
                worst[name] = max(worst.get(name, -math.inf), float(value))
    over = [(n, v) for n, v in worst.items() if v > threshold]
    return sorted(over, key=lambda item: (-item[1], item[0]))


def _table(facts: AlertFacts, drifted: list[tuple[str, float]], threshold: float) -> list[str]:
    """Windows (rows, newest last) × the metric and the drifted features; values over the
    threshold in bold."""
    shown = [name for name, _ in drifted[:MAX_FEATURE_COLUMNS]]
    header = ["window", f"`{facts.metric}`", *(f"`{_cell(n)}`" for n in shown)]
    rows = facts.series[-MAX_WINDOW_ROWS:]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for entry in rows:
        features = _parts(entry)
        cells = [
            str(entry.get("window", "")),
            _marked(entry.get("value"), threshold),
            *(_marked(features.get(name), threshold) for name in shown),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = []
    if len(facts.series) > len(rows):
        notes.append(f"{len(facts.series) - len(rows)} earlier windows are not shown.")
    if len(drifted) > len(shown):
        rest = ", ".join(f"`{_cell(n)}`" for n, _ in drifted[len(shown) :])
        notes.append(f"Also over the threshold: {rest}.")
    notes.append(f"**Bold**: over the threshold ({_number(threshold)}).")
    return [*lines, "", *notes]


def _steps(
    facts: AlertFacts,
    snapshot: Snapshot,
    models: list[Any],
    environment: Environment,
    branch: str,
) -> list[str]:
    short = facts.revision[:12]
    steps = [
        f"1. **Retrain on recent data.** The inputs {facts.name} served since "
        f"{facts.since:%Y-%m-%d %H:%M} UTC are in its telemetry on the machine that serves "
        f"it: `.alignops/telemetry/{facts.name}/*.parquet` (column `inputs`, rows of "
        f"revision `{short}`). Join the outcomes you observed to label them.",
    ]
    data = [line for model in models for line in _datasets(snapshot, model.name)]
    if data:
        steps.append("2. **Start from what the current version was trained on:**")
        steps += [f"   - {line}" for line in data]
    else:
        steps.append(
            "2. **Start from what the current version was trained on:** its `Model` "
            "declares no datasets (`spec.datasets.training`); find them with its owner."
        )
    model_names = ", ".join(f"`{m.name}`" for m in models) or "the model"
    steps += [
        f"3. **Commit the new version on this branch** (`{branch}`): a `Model` with the new "
        f"artifact and its sha256, and `ModelDeployment/{facts.name}` pointing at it "
        f"(instead of {model_names}). Give it a reference dataset of the newer data too "
        "(`spec.datasets.reference`), or live drift stays measured against the old one.",
        f"4. **Open a pull request into `{environment.branch}`.** The gate checks the new "
        "version like any change (drift, fairness, explainability, approvals); merging it "
        "delivers it. Delete the branch if retraining is not wanted.",
    ]
    return steps


def _datasets(snapshot: Snapshot, model_name: str) -> list[str]:
    resource = snapshot.resources.get(f"Model/{model_name}")
    if resource is None or not isinstance(resource.model, Model):
        return []
    found = []
    declared = resource.model.spec.datasets
    for role, name in (("training", declared.training), ("reference", declared.reference)):
        if name is None:
            continue
        dataset = snapshot.resources.get(f"Dataset/{name}")
        if dataset is not None and isinstance(dataset.model, Dataset):
            spec = dataset.model.spec
            found.append(
                f"{role} data of `{model_name}`: `{spec.uri}` (Dataset `{name}`, sha256 "
                f"`{spec.sha256[:16]}…`, declared in `{dataset.file}`)"
            )
        else:
            found.append(f"{role} data of `{model_name}`: Dataset `{name}` (not in the revision)")
    return found


def _policy_source(snapshot: Snapshot, models: list[Any], metric: str) -> str:
    """``file:line`` of the requirement a policy declares for ``metric`` on the served
    model, when exactly one does."""
    wanted = _REQUIREMENT.get(metric)
    if wanted is None:
        return ""
    found = []
    for resource in snapshot.of_kind("ModelDeploymentPolicy"):
        policy = resource.model
        assert isinstance(policy, ModelDeploymentPolicy)
        for model in models:
            served = snapshot.resources.get(f"Model/{model.name}")
            if served is None or not isinstance(served.model, Model):
                continue
            spec = served.model.spec
            if not policy.selects(model.name, spec.risk_level, served.model.metadata.labels):
                continue
            for i, requirement in enumerate(policy.spec.requirements):
                if requirement.type == wanted:
                    line = resource.line_of(f"spec.requirements[{i}]")
                    found.append(f"{resource.file}:{line} ({resource.id}, {wanted})")
    unique = list(dict.fromkeys(found))
    return unique[0] if len(unique) == 1 else ""


def _message(facts: AlertFacts, path: str) -> str:
    return (
        f"Request retraining of {facts.name}: {facts.metric} over the threshold in "
        f"{facts.environment}\n\n"
        f"{facts.headline}\n"
        f"Since {facts.since.isoformat()}, at revision {facts.revision[:12]}.\n"
        f"The request: {path}\n\n" + trailers(facts, "retrain")
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any) -> str:
    if not isinstance(value, int | float) or math.isnan(value):
        return "–"
    return f"{value:.4g}"


def _marked(value: Any, threshold: float) -> str:
    text = _number(value)
    if isinstance(value, int | float) and value > threshold:
        return f"**{text}**"
    return text


def _cell(text: str) -> str:
    """Text safe inside a table cell and inline code."""
    return first_line(str(text)).replace("|", "\\|").replace("`", "'")

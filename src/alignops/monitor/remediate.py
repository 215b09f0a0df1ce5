"""Remediation through Git: what a policy says to do when live traffic breaks it.

Every remediation is a commit, so Git stays the source of truth and the controller
delivers it like any other change (decision 0032):

- ``rollback``: the commit that reverts the deployment to its last compliant version on
  the environment's branch (:func:`alignops.reconcile.rollback.rollback`, which records
  its own ``rollback.*`` steps). No earlier compliant version: ``skipped``.
- ``retrain``: a new branch ``alignops/retrain/<deployment>-<YYYYMMDD>-<alert id>`` from
  the environment's branch with one commit adding a markdown request (which features
  drifted, by how much, since when, what to do). The environment's branch is untouched.
- ``scale``: a commit on the environment's branch setting ``spec.scaling.minScale`` /
  ``maxScale`` of the deployment, every other byte of its file kept.

``apply=False`` (the policy does not mark the remediation ``automatic``, or a person is
asked first) writes nothing: the outcome is ``proposed`` and says the command that does
it. Every outcome is one audit record, subject the environment:
``remediation.proposed``, ``remediation.done``, ``remediation.failed`` or
``remediation.skipped``, with the alert id, the action, the branch and the commit.

Expected failures — the branch moved meanwhile, nothing to roll back to, values the kind
rejects, uncommitted changes in the way — never raise: the outcome is ``failed`` or
``skipped`` with a message a person can act on, and nothing is committed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from alignops.audit import AuditLog
from alignops.errors import AlignOpsError, UsageError
from alignops.manifests.config import Environment
from alignops.manifests.kinds.policy import Remediation
from alignops.monitor.remediate_facts import AlertFacts, RemediationOutcome, first_line
from alignops.monitor.remediate_retrain import open_retraining_request, retrain_branch
from alignops.monitor.remediate_scale import scale_deployment
from alignops.reconcile.providers import ProviderContext
from alignops.reconcile.rollback import rollback
from alignops.source import ConfigRepository

__all__ = ["AlertFacts", "RemediationOutcome", "remediate", "remediation_command"]

_NOTHING_TO_ROLL_BACK = ("nothing to roll back", "is not deployed to")
"""How :func:`rollback` says there is nothing to do (an input error, not a failure)."""


def remediation_command(facts: AlertFacts) -> str:
    """The command a person runs to do a proposed remediation."""
    return f"alignops alerts remediate {facts.alert_id}"


def remediate(
    facts: AlertFacts,
    remediation: Remediation,
    *,
    repository: ConfigRepository,
    environment: Environment,
    audit: AuditLog,
    apply: bool,
    context: ProviderContext | None = None,
    now: datetime | None = None,
) -> RemediationOutcome:
    """Do (``apply``) or propose the policy's remediation of an alert; see the module
    docstring. ``context`` supplies the progress line; ``now`` dates the retraining
    request (default: the current UTC time). Only a bug raises, after recording
    ``remediation.failed``."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    progress: Callable[[str], None] = context.progress if context is not None else _quiet
    try:
        outcome = _outcome(
            facts, remediation, repository, environment, audit, apply, when, progress
        )
    except AlignOpsError as exc:
        outcome = _failed(facts, remediation, environment, exc, when)
    except Exception as exc:
        _record(audit, facts, _failed(facts, remediation, environment, exc, when), error=exc)
        raise
    _record(audit, facts, outcome)
    return outcome


def _outcome(
    facts: AlertFacts,
    remediation: Remediation,
    repository: ConfigRepository,
    environment: Environment,
    audit: AuditLog,
    apply: bool,
    now: datetime,
    progress: Callable[[str], None],
) -> RemediationOutcome:
    action, automatic = remediation.action, remediation.automatic
    if action == "none":
        return RemediationOutcome(
            action, automatic, "skipped", None, None, "the policy names no remediation"
        )
    if facts.environment != environment.name:
        raise UsageError(
            f"alert {facts.alert_id} is about environment {facts.environment!r}, not "
            f"{environment.name!r}; nothing was done"
        )
    if not apply:
        return _proposed(facts, remediation, environment, now)
    if action == "retrain":
        return open_retraining_request(
            facts,
            repository=repository,
            environment=environment,
            automatic=automatic,
            now=now,
            progress=progress,
        )
    if action == "scale":
        assert remediation.scale is not None  # the kind requires it for this action
        return scale_deployment(
            facts,
            remediation.scale,
            repository=repository,
            environment=environment,
            automatic=automatic,
            progress=progress,
        )
    return _rollback(facts, automatic, repository, environment, audit, progress)


def _proposed(
    facts: AlertFacts, remediation: Remediation, environment: Environment, now: datetime
) -> RemediationOutcome:
    """What would be done, and the command that does it; nothing is written."""
    action, branch = remediation.action, environment.branch
    run = f"run `{remediation_command(facts)}` to do it"
    if action == "retrain":
        branch = retrain_branch(facts, now)
        what = (
            f"write a retraining request for {facts.name} on a new branch {branch} from "
            f"{environment.branch}"
        )
    elif action == "scale":
        change = remediation.scale
        assert change is not None
        values = [
            f"{key} {value}"
            for key, value in (("minScale", change.min_scale), ("maxScale", change.max_scale))
            if value is not None
        ]
        what = f"set {' and '.join(values)} of {facts.name} with a commit on {branch}"
    else:
        what = f"roll {facts.name} back to its last compliant version with a commit on {branch}"
    return RemediationOutcome(
        action, remediation.automatic, "proposed", branch, None, f"proposed: {what}; {run}"
    )


def _rollback(
    facts: AlertFacts,
    automatic: bool,
    repository: ConfigRepository,
    environment: Environment,
    audit: AuditLog,
    progress: Callable[[str], None],
) -> RemediationOutcome:
    try:
        done = rollback(
            repository,
            facts.name,
            environment.name,
            audit,
            automatic=automatic,
            reason=f"Remediation of alert {facts.alert_id} ({facts.rule}, {facts.severity}): "
            + first_line(facts.summary),
            progress=progress,
        )
    except UsageError as exc:
        if not any(marker in str(exc) for marker in _NOTHING_TO_ROLL_BACK):
            raise
        return RemediationOutcome(
            "rollback",
            automatic,
            "skipped",
            environment.branch,
            None,
            f"{exc}. Nothing was committed; roll back by hand with `alignops rollback "
            f"{facts.name} --to REV`, or choose another remediation",
        )
    if done.outcome != "committed" or done.commit is None:  # only with ``to``: not used here
        raise UsageError(f"the rollback of {facts.name} was refused; nothing was committed")
    return RemediationOutcome(
        "rollback",
        automatic,
        "done",
        done.branch,
        done.commit,
        f"committed {done.commit[:12]} on {done.branch}: {done.deployment} rolled back to "
        f"{done.to_revision[:12]} (from {done.from_revision[:12]}); the next sync delivers it",
        tuple(done.files),
    )


def _failed(
    facts: AlertFacts,
    remediation: Remediation,
    environment: Environment,
    exc: Exception,
    now: datetime,
) -> RemediationOutcome:
    branch = retrain_branch(facts, now) if remediation.action == "retrain" else environment.branch
    what = str(exc) if isinstance(exc, AlignOpsError) else f"{type(exc).__name__}: {exc}"
    return RemediationOutcome(
        remediation.action,
        remediation.automatic,
        "failed",
        branch,
        None,
        f"{remediation.action} of {facts.name} failed: {what}",
    )


def _record(
    audit: AuditLog,
    facts: AlertFacts,
    outcome: RemediationOutcome,
    *,
    error: Exception | None = None,
) -> None:
    payload: dict[str, Any] = {
        "alertId": facts.alert_id,
        "rule": facts.rule,
        "environment": facts.environment,
        "deployment": facts.name,
        "revision": facts.revision,
        "metric": facts.metric,
        **outcome.to_dict(),
    }
    if error is not None:
        payload["error"] = type(error).__name__
    audit.append(f"remediation.{outcome.status}", facts.environment, payload)


def _quiet(_: str) -> None:
    return None

"""``sync``: make an environment run what a revision declares — if the gate lets it.

Ordered steps, each recorded in the audit log (subject: the environment):

1. **load** (``sync.started``) — the desired state of the environment at the revision;
2. **gate** (``gate.verdict``, ``sync.gate``) — :func:`alignops.gate.check`; a deny stops
   here (``sync.refused``, with the denials): nothing is started or stopped, whatever
   runs keeps serving;
3. **plan** (``sync.plan``) — desired against live, per provider; services no provider
   can run are *skipped* with the reason, never faked;
4. **apply** (``sync.apply``, one record per create or update);
5. **prune** (``sync.prune``, one per delete, and per leftover of an interrupted run);
6. **health** (``sync.health``) — every service the revision declares, asked now;
7. **rollback** (``rollback.automatic``) — an update whose new version never became
   healthy, of a revision at the tip of the environment's branch, with ``autoRollback``
   on: the revert to the deployment's last compliant version is committed (decision 0022).

Drift — a service that ran and is gone, a setting changed outside Git — is healed in the
apply step, or, with ``drift: report``, recorded as ``sync.drift`` and left (decision
0023).

The result (``sync.finished``) is ``synced``, ``refused``, ``failed`` (an action
failed, or a service is unhealthy; decision 0020) or ``drifted`` (drift was reported).
An unexpected error is recorded as ``sync.failed`` with the step it happened in, then
raised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from alignops.audit import AuditLog
from alignops.errors import AlignOpsError, UsageError
from alignops.evidence.store import EvidenceStore
from alignops.evidence.usage import save_usage
from alignops.gate import Verdict, check
from alignops.manifests.snapshot import Snapshot
from alignops.reconcile.desired import DesiredService, desired_state
from alignops.reconcile.plan import Action, LiveService, Plan, plan
from alignops.reconcile.providers import (
    PROVIDERS,
    Applied,
    ApplyContext,
    Health,
    Provider,
    ProviderContext,
    open_provider,
    unsupported_reason,
)
from alignops.reconcile.rollback import Rollback, rollback
from alignops.source import ConfigRepository

__all__ = [
    "ActionResult",
    "AutomaticRollback",
    "EnvironmentPlan",
    "SyncResult",
    "declared_health",
    "last_running",
    "open_providers",
    "plan_environment",
    "sync",
]

SyncOutcome = Literal["synced", "refused", "failed", "drifted"]
DriftMode = Literal["heal", "report"]


@dataclass(frozen=True)
class ActionResult:
    """One planned action (or tidy-up) and what came of it."""

    verb: str
    service: str
    reason: str
    ok: bool
    message: str
    changed: bool = False
    error: str | None = None
    """Exception type of a failure (``ProviderError``, ``PermanentError`` …)."""
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.verb,
            "service": self.service,
            "reason": self.reason,
            "ok": self.ok,
            "changed": self.changed,
            "message": self.message,
            "error": self.error,
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class EnvironmentPlan:
    """The plan of one environment at one revision, with where each service lives."""

    environment: str
    revision: str
    desired: Mapping[str, DesiredService]
    live: Mapping[str, LiveService]
    plan: Plan
    skipped: Mapping[str, str]
    """Service → why no provider runs it (its actions are not applied)."""
    located: Mapping[str, tuple[str, ...]]
    """Service → targets it runs on now."""
    drift_mode: DriftMode = "heal"
    """What a sync does with drift actions: apply them, or report them."""
    ran: Mapping[str, str] = field(default_factory=dict)
    """Service → fingerprint the last sync left it running with (drift is judged by it)."""

    @property
    def drift(self) -> tuple[Action, ...]:
        """Actions that heal drift (a service that ran is gone, a setting changed)."""
        return tuple(a for a in self.plan.actions if a.drift and a.name not in self.skipped)

    @property
    def reported(self) -> tuple[Action, ...]:
        """The drift actions a sync reports instead of applying (``drift: report``)."""
        return self.drift if self.drift_mode == "report" else ()

    def to_dict(self) -> dict[str, Any]:
        document = self.plan.to_dict()
        for action in document["actions"]:
            action["skipped"] = self.skipped.get(action["service"])
        return {
            "environment": self.environment,
            "revision": self.revision,
            "driftMode": self.drift_mode,
            **document,
            "skipped": [{"service": k, "reason": v} for k, v in self.skipped.items()],
        }


@dataclass(frozen=True)
class AutomaticRollback:
    """A failed update rolled back by the sync: the revert commit, or why there is none."""

    service: str
    failure: str
    """What the failed update said."""
    rollback: Rollback | None = None
    refused: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "failure": self.failure,
            "rollback": self.rollback.to_dict() if self.rollback else None,
            "refused": self.refused,
        }


@dataclass(frozen=True)
class SyncResult:
    """What a sync did to an environment."""

    environment: str
    revision: str
    outcome: SyncOutcome
    verdict: str
    """The gate's outcome: pass, warn or deny."""
    started_at: datetime
    finished_at: datetime
    actions: tuple[ActionResult, ...] = ()
    skipped: Mapping[str, str] = field(default_factory=dict)
    health: Mapping[str, Health] = field(default_factory=dict)
    denials: tuple[dict[str, Any], ...] = ()
    unchanged: tuple[str, ...] = ()
    drift: tuple[Action, ...] = ()
    """Drift found and reported, not healed (``drift: report``)."""
    rollbacks: tuple[AutomaticRollback, ...] = ()
    running: Mapping[str, str] = field(default_factory=dict)
    """Service → fingerprint it runs with after the sync, as far as alignops left it: the
    next sync's reference for drift (:func:`last_running`)."""

    @property
    def failures(self) -> list[ActionResult]:
        return [a for a in self.actions if not a.ok]

    @property
    def unhealthy(self) -> dict[str, Health]:
        """Unhealthy services, but for those whose drift was reported (that is said)."""
        reported = {a.name for a in self.drift}
        return {n: h for n, h in self.health.items() if not h.ok and n not in reported}

    def counts(self) -> dict[str, int]:
        done = [a for a in self.actions if a.ok and a.changed]
        return {
            "created": sum(a.verb == "create" for a in done),
            "updated": sum(a.verb == "update" for a in done),
            "deleted": sum(a.verb in ("delete", "tidy") for a in done),
            "unchanged": len(self.unchanged),
            "skipped": len(self.skipped),
            "failed": len(self.failures),
            "unhealthy": len(self.unhealthy),
            "drifted": len(self.drift),
            "rolledBack": sum(r.rollback is not None for r in self.rollbacks),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "revision": self.revision,
            "outcome": self.outcome,
            "verdict": self.verdict,
            "startedAt": self.started_at.isoformat(),
            "finishedAt": self.finished_at.isoformat(),
            "counts": self.counts(),
            "actions": [a.to_dict() for a in self.actions],
            "failures": [a.to_dict() for a in self.failures],
            "skipped": [{"service": k, "reason": v} for k, v in self.skipped.items()],
            "unchanged": list(self.unchanged),
            "health": {name: h.to_dict() for name, h in self.health.items()},
            "denials": list(self.denials),
            "drift": [a.to_dict() for a in self.drift],
            "rollbacks": [r.to_dict() for r in self.rollbacks],
            "running": dict(self.running),
        }


# -- shared by ``alignops plan`` and sync -------------------------------------------------


def open_providers(snapshot: Snapshot, context: ProviderContext) -> dict[str, Provider]:
    """A provider per target of ``alignops.yaml`` whose provider is built."""
    return {
        t.name: open_provider(t, context)
        for t in snapshot.config.targets
        if t.provider in PROVIDERS
    }


def plan_environment(
    snapshot: Snapshot,
    environment: str,
    providers: Mapping[str, Provider],
    *,
    prune: bool = True,
    audit: AuditLog | None = None,
) -> EnvironmentPlan:
    """Desired state at ``snapshot`` against what the providers run now. Reads live
    state; changes nothing. With ``audit``, a service the last sync left running that is
    gone now is drift (without it, it is a plain create)."""
    desired = desired_state(snapshot, environment)
    settings = snapshot.config.environment(environment)
    assert settings is not None  # desired_state checked it
    targets = {t.name: t for t in snapshot.config.targets}
    skipped: dict[str, str] = {}
    for name, service in desired.items():
        reason = unsupported_reason(targets, service)
        provider = providers.get(service.target)
        if reason is None and provider is not None:
            reason = provider.supports(service)
        if reason is not None:
            skipped[name] = reason
    live: dict[str, LiveService] = {}
    located: dict[str, list[str]] = {}
    for target, provider in providers.items():
        for name, running in provider.live(environment).items():
            located.setdefault(name, []).append(target)
            want = desired.get(name)
            if name not in live or (want is not None and want.target == target):
                live[name] = running
    ran = last_running(audit, environment) if audit is not None else {}
    result = plan(desired, live, prune=prune, ran=ran)
    return EnvironmentPlan(
        environment,
        snapshot.revision,
        desired,
        live,
        result,
        skipped,
        {k: tuple(v) for k, v in sorted(located.items())},
        settings.drift,
        ran,
    )


def last_running(audit: AuditLog, environment: str) -> dict[str, str]:
    """Service → fingerprint the environment's last sync that got past the gate left it
    running with (``SyncResult.running``)."""
    for entry in audit.records(action="sync.finished", subject=environment):
        data = entry.data
        if data.get("outcome") != "refused":
            return {str(k): str(v) for k, v in (data.get("running") or {}).items()}
    return {}


# -- sync ---------------------------------------------------------------------------------


class _Recorder:
    """Appends the sync's records; remembers the step for ``sync.failed``."""

    def __init__(self, audit: AuditLog, environment: str, revision: str) -> None:
        self.audit = audit
        self.environment = environment
        self.revision = revision
        self.step = "load"

    def __call__(self, action: str, payload: Mapping[str, Any]) -> int:
        body = {"environment": self.environment, "revision": self.revision, **payload}
        return self.audit.append(action, self.environment, body).seq


def sync(
    snapshot: Snapshot,
    *,
    environment: str,
    context: ProviderContext,
    audit: AuditLog,
    evidence_store: EvidenceStore | None = None,
    prune: bool = True,
    on_verdict: Callable[[Verdict], None] | None = None,
    repository: ConfigRepository | None = None,
) -> SyncResult:
    """Gate ``snapshot`` and, unless denied, make ``environment`` run it (module docstring).

    ``repository``: where an automatic rollback commits; without it there is none.
    Raises :class:`~alignops.errors.AlignOpsError` for input that cannot be loaded or
    gated (nothing is applied then).
    """
    if snapshot.worktree:
        raise UsageError("sync deploys committed revisions only; commit the change first")
    started = datetime.now(UTC)
    record = _Recorder(audit, environment, snapshot.revision)
    progress = context.progress
    with _recorded_failure(record):
        desired = desired_state(snapshot, environment)
        providers = open_providers(snapshot, context)
        record(
            "sync.started",
            {"label": snapshot.label, "digest": snapshot.digest, "services": list(desired)},
        )

        record.step = "gate"
        progress(f"gate: checking {snapshot.short} for {environment}")
        verdict = check(
            snapshot, environment=environment, evidence_store=evidence_store, progress=progress
        )
        verdict_seq = audit.append(
            "gate.verdict", verdict.revision or verdict.digest, verdict.to_dict()
        ).seq
        save_usage(audit.db, verdict.usage)
        if on_verdict is not None:
            on_verdict(verdict)
        gated = {"outcome": verdict.outcome, "summary": verdict.summary()}
        record("sync.gate", {**gated, "verdictRecord": verdict_seq})
        if verdict.outcome == "deny":
            denials = tuple(_denial(f) for f in verdict.denied)
            record("sync.refused", {"denials": list(denials)})
            result = SyncResult(
                environment,
                snapshot.revision,
                "refused",
                verdict.outcome,
                started,
                datetime.now(UTC),
                denials=denials,
            )
            record("sync.finished", result.to_dict())
            return result

        with _locked(providers, environment):
            record.step = "plan"
            planned = plan_environment(snapshot, environment, providers, prune=prune, audit=audit)
            record("sync.plan", planned.to_dict())
            progress(f"plan: {_describe(planned)}")
            record.step = "apply"
            drift = _drift_step(planned, record)
            actions = _apply_step(
                planned, ApplyContext(snapshot, environment), providers, record, drift
            )
            record.step = "prune"
            actions += _prune_step(planned, providers, record)
            record.step = "health"
            health = _health_step(planned, providers, record)

        record.step = "rollback"
        rollbacks = _rollback_step(snapshot, environment, planned, actions, repository, record)
        result = SyncResult(
            environment,
            snapshot.revision,
            "synced",
            verdict.outcome,
            started,
            datetime.now(UTC),
            actions=tuple(actions),
            skipped=dict(planned.skipped),
            health=health,
            unchanged=planned.plan.unchanged,
            drift=drift,
            rollbacks=rollbacks,
            running=_running(planned, actions, drift),
        )
        if result.failures or result.unhealthy:
            result = replace(result, outcome="failed")
        elif drift:
            result = replace(result, outcome="drifted")
        record("sync.finished", result.to_dict())
        return result


def _drift_step(planned: EnvironmentPlan, record: _Recorder) -> tuple[Action, ...]:
    """With ``drift: report``, the drift actions: recorded, and not to be applied."""
    for action in planned.reported:
        record("sync.drift", {**action.to_dict(), "healed": False})
    return planned.reported


def _apply_step(
    planned: EnvironmentPlan,
    context: ApplyContext,
    providers: Mapping[str, Provider],
    record: _Recorder,
    reported: tuple[Action, ...] = (),
) -> list[ActionResult]:
    """Creates and updates, one service at a time; a failure does not stop the others.
    Drift that was ``reported`` is left as it is."""
    actions = []
    for action in planned.plan.actions:
        if action.verb == "delete" or action.name in planned.skipped or action in reported:
            continue
        outcome = _apply(action, context, planned, providers)
        record("sync.apply", outcome.to_dict())
        actions.append(outcome)
    return actions


def _prune_step(
    planned: EnvironmentPlan, providers: Mapping[str, Provider], record: _Recorder
) -> list[ActionResult]:
    """Deletes, then whatever interrupted runs left behind."""
    actions = []
    for action in planned.plan.actions:
        if action.verb == "delete":
            for outcome in _delete(action, planned, providers, planned.environment):
                record("sync.prune", outcome.to_dict())
                actions.append(outcome)
    for provider in providers.values():
        for applied in provider.tidy(planned.environment):
            outcome = _result(applied, "left by an interrupted sync")
            record("sync.prune", outcome.to_dict())
            actions.append(outcome)
    return actions


def declared_health(
    planned: EnvironmentPlan, providers: Mapping[str, Provider]
) -> dict[str, Health]:
    """Every declared service a provider runs, asked now (one call per target)."""
    by_target: dict[str, list[str]] = {}
    for name, service in planned.desired.items():
        if name not in planned.skipped:
            by_target.setdefault(service.target, []).append(name)
    health: dict[str, Health] = {}
    for target, names in by_target.items():
        health.update(providers[target].health(planned.environment, names))
    return dict(sorted(health.items()))


def _health_step(
    planned: EnvironmentPlan, providers: Mapping[str, Provider], record: _Recorder
) -> dict[str, Health]:
    """Every declared service a provider runs, asked now."""
    health = declared_health(planned, providers)
    record("sync.health", {"services": {k: h.to_dict() for k, h in health.items()}})
    return health


def _rollback_step(
    snapshot: Snapshot,
    environment: str,
    planned: EnvironmentPlan,
    actions: list[ActionResult],
    repository: ConfigRepository | None,
    record: _Recorder,
) -> tuple[AutomaticRollback, ...]:
    """Commit the revert of each deployment whose update to ``snapshot`` failed (the
    previous version keeps serving), if ``snapshot`` is its branch's tip and the
    environment rolls back automatically. Nothing is synced: what runs is the old version
    already, which the revert commit declares."""
    settings = snapshot.config.environment(environment)
    drift = {a.name for a in planned.drift}
    failed = [
        a
        for a in actions
        if a.verb == "update"
        and not a.ok
        and not a.changed
        and a.service.startswith("ModelDeployment/")
        and a.service not in drift
    ]
    if not failed or repository is None or settings is None or not settings.auto_rollback:
        return ()
    try:
        tip = str(repository.resolve(f"refs/heads/{settings.branch}").id)
    except AlignOpsError:
        return ()
    if tip != snapshot.revision:
        return ()
    out = []
    for failure in failed:
        summary = (failure.message.splitlines() or [str(failure.error)])[0]
        reason = f"Automatic: the update to {snapshot.short} failed: {summary}"
        try:
            done = rollback(
                repository,
                failure.service,
                environment,
                record.audit,
                automatic=True,
                reason=reason,
                progress=lambda _: None,
            )
        except AlignOpsError as exc:
            outcome = AutomaticRollback(failure.service, failure.message, refused=str(exc))
        else:
            outcome = AutomaticRollback(failure.service, failure.message, done)
        record("rollback.automatic", outcome.to_dict())
        out.append(outcome)
    return tuple(out)


def _running(
    planned: EnvironmentPlan,
    actions: list[ActionResult],
    reported: tuple[Action, ...],
) -> dict[str, str]:
    """Service → fingerprint it runs with after the sync: applied ones the desired
    settings, failed updates the old ones (still serving), unchanged ones theirs; reported
    drift keeps what the last sync said."""
    applied = {a.service: a for a in actions if a.verb in ("create", "update")}
    drifted = {a.name for a in reported}
    running: dict[str, str] = {}
    for name, service in planned.desired.items():
        live = planned.live.get(name)
        result = applied.get(name)
        if name in planned.skipped:
            continue
        if name in drifted:
            fingerprint = live.fingerprint if live is not None else planned.ran.get(name)
        elif result is not None and (result.ok or result.changed):
            fingerprint = service.fingerprint
        else:
            fingerprint = live.fingerprint if live is not None else None
        if fingerprint is not None:
            running[name] = fingerprint
    return running


@contextlib.contextmanager
def _recorded_failure(record: _Recorder) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        record(
            "sync.failed",
            {"step": record.step, "error": type(exc).__name__, "message": str(exc)},
        )
        raise


@contextlib.contextmanager
def _locked(providers: Mapping[str, Provider], environment: str) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for name in sorted(providers):
            stack.enter_context(providers[name].lock(environment))
        yield


def _apply(
    action: Action,
    context: ApplyContext,
    planned: EnvironmentPlan,
    providers: Mapping[str, Provider],
) -> ActionResult:
    """Create or update on the desired target; then stop the service on any other
    target it ran on (it moved)."""
    assert action.desired is not None
    target = action.desired.target
    try:
        applied = providers[target].apply(action, context)
    except AlignOpsError as exc:
        return ActionResult(
            action.verb, action.name, action.reason, False, str(exc), error=type(exc).__name__
        )
    moved = []
    for other in planned.located.get(action.name, ()):
        if other != target:
            try:
                moved.append(providers[other].delete(action.name, context.environment).message)
            except AlignOpsError as exc:
                message = f"{applied.message}; could not stop it on target {other}: {exc}"
                return ActionResult(
                    action.verb, action.name, action.reason, False, message, True, "ProviderError"
                )
    result = _result(applied, action.reason)
    if moved:
        message = f"{result.message}; on its previous target: {'; '.join(moved)}"
        return ActionResult(result.verb, result.service, result.reason, True, message, True)
    return result


def _delete(
    action: Action,
    planned: EnvironmentPlan,
    providers: Mapping[str, Provider],
    environment: str,
) -> list[ActionResult]:
    out = []
    for target in planned.located.get(action.name, ()):
        try:
            out.append(_result(providers[target].delete(action.name, environment), action.reason))
        except AlignOpsError as exc:
            out.append(
                ActionResult(
                    "delete", action.name, action.reason, False, str(exc), error=type(exc).__name__
                )
            )
    return out


def _result(applied: Applied, reason: str) -> ActionResult:
    return ActionResult(
        applied.verb,
        applied.name,
        reason,
        True,
        applied.message,
        applied.changed,
        None,
        applied.details,
    )


def _denial(finding: Any) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "resource": finding.resource,
        "message": finding.message,
        "location": finding.location,
    }


def _describe(planned: EnvironmentPlan) -> str:
    actions = [
        a
        for a in planned.plan.actions
        if a.name not in planned.skipped and a not in planned.reported
    ]
    verbs = [a.verb for a in actions]
    parts = [f"{verbs.count(v)} to {v}" for v in ("create", "update", "delete") if v in verbs]
    parts.append(f"{len(planned.plan.unchanged)} unchanged")
    if planned.reported:
        parts.append(f"{len(planned.reported)} drift to report")
    if planned.skipped:
        parts.append(f"{len(planned.skipped)} skipped")
    return ", ".join(parts)

"""The monitor's tick: telemetry → windows → rules → alerts → notifications → remediation.

One :meth:`Monitor.tick`:

1. adds the telemetry segments written since the last tick into the windows
   (:func:`alignops.monitor.windows.update_windows`; ``monitoring.windowSeconds`` of
   the checked-out branch's ``alignops.yaml``);
2. for each environment, reads its rules at the tip of its branch
   (:func:`~alignops.monitor.rules.plan_rules`);
3. for each rule, judges the windows not judged yet, oldest first
   (:mod:`~alignops.monitor.judge`), and moves its alert along: open, update, resolve
   (:mod:`~alignops.monitor.alerts`, decision 0030); an alert whose rule is gone resolves;
4. for each transition not held by a silence, enqueues one notification per route
   (:mod:`~alignops.monitor.messages`); when an alert opens with a remediation, does or
   proposes it first (:mod:`~alignops.monitor.respond`) so the message says which;
5. dispatches the outbox (:meth:`alignops.notify.Notifier.dispatch`).

Which windows a rule still has to judge: those after its newest alert's last window (a
firing alert) or after the window that resolved it; with no alert, and never further
back than ``lookback_windows``, those the monitor has not judged since it started. So a
window is judged and notified once however many ticks run, and a restarted monitor
re-judges at most ``lookback_windows`` windows — whose notifications the outbox already
holds.

The tick never raises for one environment's, deployment's or route's problem: it is
recorded (``monitor.failed`` in the audit log), reported, and the rest goes on.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alignops.audit import AuditLog
from alignops.errors import AlignOpsError, UsageError
from alignops.evidence.store import EvidenceStore
from alignops.manifests.config import Environment, RepoConfig
from alignops.manifests.kinds import AlertRoute
from alignops.manifests.kinds.policy import Remediation
from alignops.manifests.snapshot import Snapshot
from alignops.monitor.alerts import Alert, AlertStore, WindowValue, iso
from alignops.monitor.judge import Finding, Slot, history_needed, judge, slots
from alignops.monitor.messages import (
    alert_title,
    firing_notification,
    format_value,
    resolved_notification,
)
from alignops.monitor.reference import ReferenceProfiles
from alignops.monitor.remediate_facts import RemediationOutcome
from alignops.monitor.respond import remediate_alert, stored_remediation
from alignops.monitor.rules import Rule, RulePlan, plan_rules
from alignops.monitor.silences import SilenceStore
from alignops.monitor.status import deployment_status
from alignops.monitor.windows import load_windows, update_windows
from alignops.notify.notification import Notification, now_utc
from alignops.notify.notifier import Notifier
from alignops.notify.report import DispatchReport
from alignops.reconcile.providers import ProviderContext
from alignops.source import ConfigRepository
from alignops.store import Database

__all__ = ["DEFAULT_LOOKBACK_WINDOWS", "DEFAULT_SETTLE", "Monitor", "MonitorReport"]

DEFAULT_LOOKBACK_WINDOWS = 48
"""How many windows back a rule with no alert, or a monitor that was stopped, judges."""
DEFAULT_SETTLE = timedelta(seconds=10)
"""How long after a window ends it is judged: the runtime flushes telemetry every 5 s,
so the last requests of a window are on disk by then."""


@dataclass
class MonitorReport:
    """What one tick did."""

    at: datetime
    revision: str | None = None
    """The checked-out branch's tip the settings were read from."""
    windows: dict[str, Any] = field(default_factory=dict)
    """What updating the windows did (segments, rows, windows touched)."""
    environments: dict[str, str] = field(default_factory=dict)
    """Environment → the revision its rules were read from."""
    rules: int = 0
    judged: int = 0
    """Findings: (rule, window) pairs judged this tick."""
    not_judged: int = 0
    """Closed windows with too few requests, or whose metric could not be measured."""
    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    enqueued: int = 0
    existing: int = 0
    """Notifications already in the outbox (another tick or monitor enqueued them)."""
    silenced: int = 0
    dispatch: DispatchReport = field(default_factory=DispatchReport)
    remediations: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unwatched: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        dispatched = self.dispatch.counts()
        return {
            "rules": self.rules,
            "judged": self.judged,
            "notJudged": self.not_judged,
            "opened": len(self.opened),
            "updated": len(self.updated),
            "resolved": len(self.resolved),
            "enqueued": self.enqueued,
            "silenced": self.silenced,
            **dispatched,
            "problems": len(self.problems),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "revision": self.revision,
            "environments": self.environments,
            "windows": self.windows,
            "counts": self.counts(),
            "alerts": {"opened": self.opened, "updated": self.updated, "resolved": self.resolved},
            "notifications": {
                "enqueued": self.enqueued,
                "existing": self.existing,
                "silenced": self.silenced,
                "dispatch": self.dispatch.to_dict(),
            },
            "remediations": self.remediations,
            "problems": self.problems,
            "notes": self.notes,
            "unwatched": self.unwatched,
        }


@dataclass(frozen=True)
class _Tick:
    """What the steps of one tick share."""

    now: datetime
    seconds: int
    min_requests: int
    notifier: Notifier
    report: MonitorReport


class Monitor:
    """Watches the deployments of a config repository (module docstring)."""

    def __init__(
        self,
        repository: ConfigRepository,
        *,
        database: Database,
        audit: AuditLog,
        state_dir: Path | None = None,
        environments: Sequence[str] = (),
        remote: str | None = None,
        evidence_store: EvidenceStore | None = None,
        context: ProviderContext | None = None,
        machine: str | None = None,
        clock: Callable[[], datetime] = now_utc,
        settle: timedelta = DEFAULT_SETTLE,
        lookback_windows: int = DEFAULT_LOOKBACK_WINDOWS,
        notifier_options: dict[str, Any] | None = None,
    ) -> None:
        """``state_dir``: where the runtime writes telemetry (``.alignops`` of the
        repository); ``environments``: only these (default: every one in
        ``alignops.yaml``); ``remote``: read ``refs/remotes/<remote>/<branch>`` as the
        controller does with ``--remote``; ``context``: what a scale remediation needs;
        ``clock``: the time (tests move it); ``notifier_options``: passed to
        :class:`~alignops.notify.Notifier` (``ssl_context``, ``log_stream``,
        ``environ``)."""
        self.repository = repository
        self.database = database
        self.audit = audit
        self.state_dir = state_dir or repository.root / ".alignops"
        self.environments = tuple(environments)
        self.remote = remote
        self.context = context or ProviderContext(self.state_dir, database)
        self.machine = machine
        self.clock = clock
        self.settle = settle
        self.lookback_windows = lookback_windows
        self.notifier_options = dict(notifier_options or {})
        self.references = ReferenceProfiles(repository, evidence=evidence_store)
        self.alerts = AlertStore(database, audit, clock=clock)
        self.silences = SilenceStore(database, audit, clock=clock)
        self.last: MonitorReport | None = None
        self._judged: dict[str, datetime] = {}
        """Fingerprint → the newest window this monitor judged for it."""

    # -- the tick ---------------------------------------------------------------------------

    def tick(self) -> MonitorReport:
        """One pass (module docstring); never raises for a problem of one part."""
        report = MonitorReport(at=self.clock())
        try:
            home = self._home()
        except Exception as exc:  # noqa: BLE001 - recorded and reported; the loop goes on
            self._failed(report, "controller", "read the config", exc)
            self.last = report
            return report
        report.revision = home.revision
        config = home.config
        seconds = config.monitoring.window_seconds
        try:
            updated = update_windows(
                state_dir=self.state_dir,
                database=self.database,
                references=self.references,
                window_seconds=seconds,
                machine=self.machine,
            )
            report.windows = updated.to_dict()
        except Exception as exc:  # noqa: BLE001 - judge what is there; the loop goes on
            self._failed(report, "monitor", "update the windows", exc)
        plans = self._plans(config, report)
        snapshots = [snapshot for snapshot, _ in plans.values()]
        notifier = self._notifier(home, snapshots)
        tick = _Tick(report.at, seconds, config.monitoring.min_requests, notifier, report)
        for name, (snapshot, plan) in plans.items():
            environment = snapshot.config.environment(name)
            assert environment is not None
            self._environment(tick, environment, plan)
        try:
            report.dispatch = notifier.dispatch()
        except Exception as exc:  # noqa: BLE001 - the outbox keeps them for the next tick
            self._failed(report, "monitor", "dispatch notifications", exc)
        self.last = report
        return report

    def status(self, *, windows: int = 3, update: bool = True) -> dict[str, Any]:
        """Per environment and deployment: the latest ``windows`` windows, the rules,
        what is left unwatched, the firing alerts (``alignops monitor status``). With
        ``update``, the telemetry written since the last tick is added first."""
        report = MonitorReport(at=self.clock())
        home = self._home()
        config = home.config
        seconds = config.monitoring.window_seconds
        updated = None
        if update:
            updated = update_windows(
                state_dir=self.state_dir,
                database=self.database,
                references=self.references,
                window_seconds=seconds,
                machine=self.machine,
            )
        environments = []
        for name, (_, plan) in self._plans(config, report, record=False).items():
            rows = deployment_status(
                plan,
                database=self.database,
                references=self.references,
                alerts=self.alerts,
                now=report.at,
                window_seconds=seconds,
                min_requests=config.monitoring.min_requests,
                settle=self.settle,
                windows=windows,
            )
            environments.append(
                {"environment": name, "revision": plan.revision, "deployments": rows}
            )
        return {
            "at": iso(report.at),
            "revision": home.revision,
            "windowSeconds": seconds,
            "minRequests": config.monitoring.min_requests,
            "updated": updated.to_dict() if updated is not None else None,
            "environments": environments,
            "problems": report.problems,
        }

    def remediate(self, alert_id: int) -> tuple[Alert, RemediationOutcome]:
        """Run the remediation stored on alert ``alert_id`` (``apply=True``): what was
        proposed when it opened is what runs. A :class:`UsageError` for an unknown
        alert, an alert without remediation, or an environment no longer defined."""
        alert = self.alerts.get(alert_id)
        remediation = stored_remediation(alert)
        config = self._home().config
        environment = config.environment(alert.environment)
        if environment is None:
            raise UsageError(
                f"alert {alert_id}: environment {alert.environment!r} is no longer in "
                "alignops.yaml; nothing to remediate"
            )
        outcome = remediate_alert(
            alert,
            remediation,
            store=self.alerts,
            repository=self.repository,
            environment=environment,
            audit=self.audit,
            apply=True,
            context=self.context,
        )
        return self.alerts.get(alert_id), outcome

    def _home(self) -> Snapshot:
        """The checked-out branch's tip (with a remote: its remote-tracking copy), whose
        ``alignops.yaml`` lists the environments, as the controller reads it."""
        ref = "HEAD"
        if self.remote is not None:
            branch = self.repository.branch()
            if branch is None:
                raise AlignOpsError(f"HEAD of {self.repository.root} is detached")
            ref = f"refs/remotes/{self.remote}/{branch}"
        return self.repository.snapshot(str(self.repository.resolve(ref).id))

    def _tip(self, environment: Environment) -> Snapshot:
        prefix = "refs/heads" if self.remote is None else f"refs/remotes/{self.remote}"
        revision = str(self.repository.resolve(f"{prefix}/{environment.branch}").id)
        return self.repository.snapshot(revision)

    def _plans(
        self, config: RepoConfig, report: MonitorReport, *, record: bool = True
    ) -> dict[str, tuple[Snapshot, RulePlan]]:
        plans: dict[str, tuple[Snapshot, RulePlan]] = {}
        for environment in config.environments:
            if self.environments and environment.name not in self.environments:
                continue
            try:
                snapshot = self._tip(environment)
                plan = plan_rules(snapshot, environment.name)
            except Exception as exc:  # noqa: BLE001 - the other environments go on
                if record:
                    self._failed(report, environment.name, "read the rules", exc)
                else:
                    report.problems.append(f"{environment.name}: cannot read the rules: {exc}")
                continue
            plans[environment.name] = (snapshot, plan)
            report.environments[environment.name] = snapshot.revision
            report.rules += len(plan.rules)
            report.unwatched += [u.to_dict() for u in plan.unwatched]
        return plans

    def _notifier(self, home: Snapshot, snapshots: Sequence[Snapshot]) -> Notifier:
        """One notifier for the tick: the routes of the checked-out branch, plus those
        only an environment's branch declares (a route is known by name to dispatch)."""
        routes: dict[str, AlertRoute] = {}
        for snapshot in (home, *snapshots):
            for resource in snapshot.of_kind("AlertRoute"):
                assert isinstance(resource.model, AlertRoute)
                routes.setdefault(resource.name, resource.model)
        return Notifier(
            list(routes.values()),
            home.config.notifications,
            database=self.database,
            audit=self.audit,
            root=self.repository.root,
            clock=self.clock,
            **self.notifier_options,
        )

    def _environment(self, tick: _Tick, environment: Environment, plan: RulePlan) -> None:
        by_deployment: dict[str, list[Rule]] = {}
        for rule in plan.rules:
            by_deployment.setdefault(rule.deployment, []).append(rule)
        for deployment, rules in by_deployment.items():
            try:
                windows = self._windows(tick, environment.name, deployment, rules)
            except Exception as exc:  # noqa: BLE001 - the other deployments go on
                self._failed(tick.report, environment.name, f"load windows of {deployment}", exc)
                continue
            for rule in rules:
                try:
                    self._watch(tick, environment, rule, windows)
                except Exception as exc:  # noqa: BLE001 - the other rules go on
                    self._failed(
                        tick.report, environment.name, f"judge {rule.name} on {deployment}", exc
                    )
        self._retire(tick, environment, plan)

    def _windows(
        self, tick: _Tick, environment: str, deployment: str, rules: list[Rule]
    ) -> list[Slot]:
        back = self.lookback_windows + max(history_needed(r) for r in rules) + 1
        since = tick.now - timedelta(seconds=back * tick.seconds)
        found = load_windows(
            self.database,
            environment=environment,
            deployment=deployment,
            since=since,
            window_seconds=tick.seconds,
        )
        return slots(found)

    # -- one rule ---------------------------------------------------------------------------

    def _cursor(self, tick: _Tick, rule: Rule, latest: Alert | None) -> datetime:
        """The newest window of ``rule`` already judged (windows after it are judged)."""
        candidates = [tick.now - timedelta(seconds=self.lookback_windows * tick.seconds)]
        if latest is not None:
            if latest.firing:
                candidates.append(latest.last_window)
            else:
                candidates.append(latest.resolved_window or latest.last_window)
        if rule.fingerprint in self._judged:
            candidates.append(self._judged[rule.fingerprint])
        return max(candidates)

    def _watch(
        self, tick: _Tick, environment: Environment, rule: Rule, all_slots: list[Slot]
    ) -> None:
        closed = [s for s in all_slots if s.closed(tick.now, self.settle)]
        judged = [s for s in closed if s.requests >= tick.min_requests]
        latest = self.alerts.latest(rule.fingerprint)
        cursor = self._cursor(tick, rule, latest)
        pending = [s for s in judged if s.start > cursor]
        tick.report.not_judged += sum(
            1 for s in closed if s.start > cursor and s.requests < tick.min_requests
        )
        if not pending:
            return
        need = history_needed(rule)
        history = [s for s in judged if s.start <= cursor][-need:] if need else []
        findings = judge(rule, [*history, *pending], self.references)[len(history) :]
        alert = latest if latest is not None and latest.firing else None
        for finding in findings:
            self._judged[rule.fingerprint] = finding.window
            if finding.value is None:
                tick.report.not_judged += 1
                tick.report.notes.append(
                    f"{rule.environment}/{rule.deployment} {rule.name} window "
                    f"{iso(finding.window)}: {finding.note}"
                )
                continue
            tick.report.judged += 1
            if finding.breaking and alert is None:
                alert = self._open(tick, environment, rule, finding)
            elif finding.breaking and alert is not None:
                alert = self._update(tick, rule, alert, finding)
            elif alert is not None:
                self._resolve(tick, rule, alert, finding.value, reason="the rule holds again")
                alert = None

    def _open(
        self, tick: _Tick, environment: Environment, rule: Rule, finding: Finding
    ) -> Alert | None:
        value = finding.value
        assert value is not None
        alert = self.alerts.open(
            fingerprint=rule.fingerprint,
            rule=rule.name,
            environment=rule.environment,
            deployment=rule.deployment,
            metric=rule.metric,
            severity=rule.severity,
            summary=_summary(rule, value),
            details=_details(rule, tick.seconds),
            values=[value],
        )
        if alert is None:  # another monitor opened it meanwhile: follow that one
            return self.alerts.latest(rule.fingerprint)
        tick.report.opened.append(alert.id)
        outcome = None
        if rule.remediation.action != "none":
            outcome = remediate_alert(
                alert,
                rule.remediation,
                store=self.alerts,
                repository=self.repository,
                environment=environment,
                audit=self.audit,
                apply=rule.remediation.automatic,
                context=self.context,
            )
            alert = self.alerts.get(alert.id)
            tick.report.remediations.append({"alert": alert.id, **outcome.to_dict()})
            if outcome.status == "failed":
                tick.report.problems.append(
                    f"alert {alert.id}: remediation failed: {outcome.message}"
                )
        note = firing_notification(rule, alert, value, tick.seconds, opened=True)
        sent = self._notify(tick, rule, alert, note)
        payload = {**_transition(rule, alert, value), **sent}
        if outcome is not None:
            payload["remediation"] = outcome.to_dict()
        self.audit.append("alert.opened", f"alert:{alert.id}", payload, now=tick.now)
        return alert

    def _update(self, tick: _Tick, rule: Rule, alert: Alert, finding: Finding) -> Alert:
        value = finding.value
        assert value is not None
        changed = self.alerts.update(alert, value, _summary(rule, value))
        if changed is None:  # judged by another monitor already
            return self.alerts.get(alert.id)
        tick.report.updated.append(changed.id)
        note = firing_notification(rule, changed, value, tick.seconds, opened=False)
        sent = self._notify(tick, rule, changed, note)
        payload = {**_transition(rule, changed, value), **sent}
        self.audit.append("alert.updated", f"alert:{changed.id}", payload, now=tick.now)
        return changed

    def _resolve(
        self, tick: _Tick, rule: Rule, alert: Alert, value: WindowValue | None, *, reason: str
    ) -> None:
        window = value.window if value is not None else None
        changed = self.alerts.resolve(alert, window=window, reason=reason, value=value)
        if changed is None:
            return
        tick.report.resolved.append(changed.id)
        note = resolved_notification(rule, changed, value, tick.seconds, reason)
        sent = self._notify(tick, rule, changed, note)
        payload: dict[str, Any] = {
            "alert": changed.id,
            "rule": rule.name,
            "environment": rule.environment,
            "deployment": rule.deployment,
            "reason": reason,
            "window": iso(window) if window is not None else None,
            "value": value.value if value is not None else None,
            "firstWindow": iso(changed.first_window),
            "lastWindow": iso(changed.last_window),
            **sent,
        }
        self.audit.append("alert.resolved", f"alert:{changed.id}", payload, now=tick.now)

    def _retire(self, tick: _Tick, environment: Environment, plan: RulePlan) -> None:
        """Resolve the firing alerts of ``environment`` whose rule no longer exists there
        (policy or rule removed, deployment gone)."""
        current = {r.fingerprint: r for r in plan.rules}
        for alert in self.alerts.find(state="firing", environment=environment.name):
            if alert.fingerprint in current:
                continue
            rule = _rule_of(alert)
            reason = (
                f"rule {alert.rule} no longer applies to {alert.deployment} in "
                f"{alert.environment} at revision {plan.revision[:12]}"
            )
            try:
                self._resolve(tick, rule, alert, None, reason=reason)
            except Exception as exc:  # noqa: BLE001 - the other alerts go on
                self._failed(tick.report, environment.name, f"resolve alert {alert.id}", exc)

    # -- notifications ----------------------------------------------------------------------

    def _notify(self, tick: _Tick, rule: Rule, alert: Alert, note: Notification) -> dict[str, Any]:
        """Enqueue ``note`` unless a silence holds the alert; what happened, for the
        audit record."""
        held = self.silences.matching(alert.labels())
        if held:
            tick.report.silenced += 1
            return {"silencedBy": [s.id for s in held], "notifications": []}
        enqueued = tick.notifier.enqueue(note, targets=rule.targets)
        tick.report.enqueued += len(enqueued)
        tick.report.existing += len(enqueued.existing)
        for problem in enqueued.problems:
            tick.report.problems.append(f"alert {alert.id}: {problem}")
        return {
            "notifications": list(enqueued),
            "unrouted": [str(p) for p in enqueued.problems],
        }

    # -- failures ---------------------------------------------------------------------------

    def _failed(self, report: MonitorReport, subject: str, step: str, exc: Exception) -> None:
        message = f"{subject}: cannot {step}: {type(exc).__name__}: {exc}"
        report.problems.append(message)
        if not isinstance(exc, AlignOpsError) and os.environ.get("ALIGNOPS_DEBUG"):
            report.problems.append("".join(traceback.format_exception(exc)))
        payload = {"step": step, "error": type(exc).__name__, "message": str(exc)}
        with contextlib.suppress(Exception):  # the database itself may be what failed
            self.audit.append("monitor.failed", subject, payload)


def _summary(rule: Rule, value: WindowValue) -> str:
    """``psi 0.312 > 0.1 on employment-fair (production): AGEP 0.312, SCHL 0.180``."""
    head = (
        f"{rule.metric} {format_value(rule.metric, value.value)} "
        + (
            f"(score {value.extra['score']:.1f})"
            if "score" in value.extra
            else f"{rule.op} {format_value(rule.metric, rule.threshold)}"
        )
        + f" on {rule.deployment} ({rule.environment})"
    )
    if value.over:
        head += ": " + ", ".join(
            f"{k} {format_value(rule.metric, v)}" for k, v in value.over.items()
        )
    return head


def _details(rule: Rule, seconds: int) -> dict[str, Any]:
    return {
        "title": alert_title(rule.metric, rule.deployment, rule.environment),
        "source": rule.source,
        "model": rule.model,
        "op": rule.op,
        "threshold": rule.threshold,
        "windowSeconds": seconds,
        "targets": list(rule.targets),
        "remediationSpec": rule.remediation.model_dump(
            mode="json", by_alias=True, exclude_none=True
        ),
        "rule": rule.to_dict(),
    }


def _transition(rule: Rule, alert: Alert, value: WindowValue) -> dict[str, Any]:
    return {
        "alert": alert.id,
        "rule": rule.name,
        "source": rule.source,
        "environment": rule.environment,
        "deployment": rule.deployment,
        "revision": value.revision,
        "metric": rule.metric,
        "severity": rule.severity,
        "op": rule.op,
        "threshold": rule.threshold,
        "window": iso(value.window),
        "requests": value.requests,
        "value": value.value,
        "over": value.over,
    }


def _rule_of(alert: Alert) -> Rule:
    """The rule an alert was opened under, as stored on it (its rule is gone)."""
    stored = alert.details.get("rule") or {}
    return Rule(
        name=alert.rule,
        environment=alert.environment,
        deployment=alert.deployment,
        metric=alert.metric,
        op=stored.get("op", ">"),
        threshold=float(stored.get("threshold", 0.0)),
        severity=alert.severity,
        targets=tuple(stored.get("targets", ())),
        remediation=Remediation.model_validate(alert.details.get("remediationSpec") or {}),
        source=str(stored.get("source", "")),
        model=alert.model,
    )

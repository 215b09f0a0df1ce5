"""The controller behind ``alignops server``: watch branches, sync environments, forever.

Every *tick* — ``interval`` seconds after the previous one ended, or at once when a
verified push webhook names a watched branch (:mod:`alignops.reconcile.webhooks`) —
for each environment of ``alignops.yaml`` with ``autoSync: true``:

1. resolve the revision to deliver: the tip of ``refs/heads/<branch>``, or with a
   remote, ``refs/remotes/<remote>/<branch>`` after fetching it once per tick;
2. :func:`~alignops.reconcile.sync.sync` it — even when it did not change: that is how
   drift (a killed service) is healed within one interval. A sync of what already runs
   starts nothing, and the gate's evidence is cached, so it stays cheap.

A failure is reported and recorded, and the loop goes on; the next tick retries. Which
environments are watched is read each tick from ``alignops.yaml`` on the checked-out
branch (with a remote: its copy there).

The state is the audit log. On start, under the sync lock, every ``sync.started`` of a
watched environment without a later ``sync.finished`` or ``sync.failed`` was cut short
(its process was killed): what it left behind is tidied by the providers, and a
``sync.interrupted`` record names it; the next sync converges (decision 0021).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alignops.audit import AuditLog, AuditRecord
from alignops.errors import AlignOpsError, UsageError
from alignops.evidence.store import EvidenceStore
from alignops.gate import Verdict
from alignops.manifests.snapshot import Snapshot
from alignops.metering import meter
from alignops.reconcile.providers import Provider, ProviderContext
from alignops.reconcile.sync import (
    SyncResult,
    declared_health,
    open_providers,
    plan_environment,
    sync,
)
from alignops.reconcile.webhooks import Push, Source
from alignops.source import ConfigRepository

__all__ = ["Controller", "TickOutcome", "Watch", "interrupted_syncs"]

_TERMINAL = ("sync.finished", "sync.failed", "sync.interrupted")


@dataclass(frozen=True)
class Watch:
    """An environment the controller keeps in sync, and the ref it delivers."""

    environment: str
    branch: str
    ref: str

    def to_dict(self) -> dict[str, str]:
        return {"environment": self.environment, "branch": self.branch, "ref": self.ref}


@dataclass(frozen=True)
class TickOutcome:
    """What one tick did to one environment."""

    environment: str
    trigger: str
    """``start``, ``interval``, or the webhook that woke the loop."""
    revision: str | None
    outcome: str
    """The sync's outcome (``synced``, ``refused``, ``failed`` …), or ``error``."""
    at: datetime
    seconds: float
    result: SyncResult | None = None
    error: str | None = None
    """Exception type, when the outcome is ``error``."""
    message: str | None = None
    exit_code: int = 0
    """As ``alignops sync`` would exit: 0 synced, 1 refused or failed, else the error's."""

    def summary(self) -> dict[str, Any]:
        """The short form (``/healthz``)."""
        return {
            "environment": self.environment,
            "trigger": self.trigger,
            "revision": self.revision,
            "outcome": self.outcome,
            "at": self.at.isoformat(timespec="milliseconds"),
            "seconds": round(self.seconds, 3),
            "counts": self.result.counts() if self.result is not None else None,
            "error": self.error,
            "message": self.message,
        }

    def to_dict(self) -> dict[str, Any]:
        """The summary plus the whole sync result (``-o json``)."""
        sync_result = self.result.to_dict() if self.result is not None else None
        return {**self.summary(), "sync": sync_result}


def interrupted_syncs(audit: AuditLog, environment: str) -> list[AuditRecord]:
    """The ``sync.started`` records of ``environment`` that nothing ended: no
    ``sync.finished``/``sync.failed`` of the same revision after it, no
    ``sync.interrupted`` naming it. Oldest first."""
    events = sorted(
        (
            record
            for action in ("sync.started", *_TERMINAL)
            for record in audit.records(action=action, subject=environment)
        ),
        key=lambda r: r.seq,
    )
    pending: list[AuditRecord] = []
    for record in events:
        if record.action == "sync.started":
            pending.append(record)
            continue
        data = record.data
        if record.action == "sync.interrupted":
            ended = [r for r in pending if r.seq == data.get("startedRecord")]
        else:  # the newest open sync of that revision: syncs of one environment nest, at most
            ended = [r for r in pending if r.data.get("revision") == data.get("revision")]
        if ended:
            pending.remove(ended[-1])
    return pending


Report = Callable[[TickOutcome], None]
Log = Callable[[str], None]


def _quiet(_: Any) -> None:
    return None


class Controller:
    """The loop (module docstring). :meth:`start`, then :meth:`run` (or :meth:`tick`
    once); :meth:`wake` and :meth:`stop` may be called from other threads."""

    def __init__(
        self,
        repository: ConfigRepository,
        *,
        audit: AuditLog,
        context: ProviderContext,
        evidence_store: EvidenceStore | None = None,
        on_verdict: Callable[[Verdict], None] | None = None,
        environments: tuple[str, ...] = (),
        remote: str | None = None,
        interval: float = 30.0,
        report: Report = _quiet,
        log: Log = _quiet,
        after_tick: Callable[[], None] | None = None,
    ) -> None:
        """``after_tick``: called at the end of every tick (the server runs the monitor
        there: it is above reconcile in the layers, so it is handed in); what it raises
        is reported and recorded like a metering failure, and the loop goes on."""
        if interval <= 0:
            raise UsageError(f"--interval must be more than 0 seconds, got {interval:g}")
        self.repository = repository
        self.audit = audit
        self.context = context
        self.evidence_store = evidence_store
        self.on_verdict = on_verdict
        self.environments = environments
        self.remote = remote
        self.interval = interval
        self.report = report
        self.log = log
        self.after_tick = after_tick
        self.watches: list[Watch] = []
        self.started_at = datetime.now(UTC)
        self.last_tick: datetime | None = None
        self.ticks = 0
        self.last: dict[str, TickOutcome] = {}
        self._synced: dict[str, str] = {}
        """Environment → the revision this controller last synced successfully."""
        self._snapshots: dict[str, Snapshot] = {}
        self._used: set[str] = set()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._triggers: list[str] = []
        self._lock = threading.Lock()

    # -- starting -----------------------------------------------------------------------

    def start(self) -> list[AuditRecord]:
        """Find what to watch (a :class:`UsageError` if nothing, or an unknown
        ``--env``), then recover from an interrupted run; the ``sync.interrupted``
        records appended."""
        if self.remote is not None:
            self._fetch(strict=True)
        self.watches = self._watched(strict=True)
        self.audit.append(
            "controller.started",
            "controller",
            {
                "pid": os.getpid(),
                "environments": [w.to_dict() for w in self.watches],
                "interval": self.interval,
                "remote": self.remote,
            },
        )
        return self._recover()

    def _home(self) -> str:
        """The ref whose ``alignops.yaml`` lists the environments."""
        if self.remote is None:
            return "HEAD"
        branch = self.repository.branch()
        if branch is None:
            raise UsageError(
                f"HEAD of {self.repository.root} is detached: check out the branch whose "
                "alignops.yaml lists the environments"
            )
        return f"refs/remotes/{self.remote}/{branch}"

    def _ref(self, branch: str) -> str:
        if self.remote is None:
            return f"refs/heads/{branch}"
        return f"refs/remotes/{self.remote}/{branch}"

    def _watched(self, *, strict: bool) -> list[Watch]:
        config = self._snapshot(self._tip(self._home())).config
        known = {e.name: e for e in config.environments}
        if strict:
            for name in self.environments:
                if name not in known:
                    raise UsageError(
                        f"unknown environment {name!r}; alignops.yaml defines "
                        f"{', '.join(known) or 'none'}"
                    )
                if not known[name].auto_sync:
                    raise UsageError(
                        f"environment {name!r} has autoSync: false in alignops.yaml; the "
                        "controller leaves it to `alignops sync`"
                    )
        watches = [
            Watch(e.name, e.branch, self._ref(e.branch))
            for e in config.environments
            if e.auto_sync and (not self.environments or e.name in self.environments)
        ]
        if strict and not watches:
            raise UsageError(
                "no environment of alignops.yaml has autoSync: true; nothing to keep in sync"
            )
        return watches

    def _recover(self) -> list[AuditRecord]:
        recorded: list[AuditRecord] = []
        for watch in self.watches:
            recorded += self._recover_environment(watch)
        return recorded

    def _recover_environment(self, watch: Watch) -> list[AuditRecord]:
        """Under the sync lock — so a sync another process is applying right now is not
        taken for an interrupted one, and two controllers starting together do not both
        record it — tidy first, then record: killed while recovering, the next start
        finds the same syncs again."""
        environment = watch.environment
        providers: dict[str, Provider] = {}
        problem: str | None = None
        try:
            providers = open_providers(self._snapshot(self._tip(watch.ref)), self.context)
        except AlignOpsError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        recorded = []
        with _locked(providers, environment):
            cut_short = interrupted_syncs(self.audit, environment)
            if not cut_short:
                return []
            tidied = [
                applied.to_dict()
                for provider in providers.values()
                for applied in provider.tidy(environment)
            ]
            for started in cut_short:
                payload = {
                    "environment": environment,
                    "revision": started.data.get("revision"),
                    "startedRecord": started.seq,
                    "startedAt": started.recorded_at,
                    "message": "the process running this sync stopped before it finished; "
                    "found by the controller on start",
                }
                recorded.append(self.audit.append("sync.interrupted", environment, payload))
            self.audit.append(
                "controller.recovered",
                environment,
                {
                    "environment": environment,
                    "interrupted": [r.seq for r in cut_short],
                    "tidied": tidied,
                    "error": problem,
                },
            )
        done = "; ".join(str(t["message"]) for t in tidied)
        self.log(
            f"{environment}: recorded {len(cut_short)} interrupted sync(s)"
            + (f"; tidied: {done}" if done else "")
            + (f"; could not tidy: {problem}" if problem else "")
        )
        return recorded

    # -- the loop -----------------------------------------------------------------------

    def run(self) -> None:
        """Tick until :meth:`stop`."""
        trigger = "start"
        while not self._stopping.is_set():
            self.tick(trigger)
            woke = self._wake.wait(self.interval)
            self._wake.clear()
            with self._lock:
                triggers, self._triggers = self._triggers, []
            trigger = ", ".join(dict.fromkeys(triggers)) if woke and triggers else "interval"

    def stop(self) -> None:
        """Finish the current sync, then leave :meth:`run`."""
        self._stopping.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def wake(self, push: Push) -> list[str]:
        """A verified push: the environments watching its branch, synced at once."""
        environments = [w.environment for w in self.watches if w.branch == push.branch]
        if environments:
            self.audit.append(
                "controller.webhook.accepted",
                "controller",
                {
                    "source": push.source,
                    "ref": push.ref,
                    "revision": push.revision,
                    "environments": environments,
                },
            )
            with self._lock:
                self._triggers.append(f"{push.source} push {push.revision[:12]}".rstrip())
            self._wake.set()
        return environments

    def rejected(self, source: Source, reason: str, client: str) -> None:
        """A webhook whose secret did not match: recorded (its body is not)."""
        self.audit.append(
            "controller.webhook.rejected",
            "controller",
            {"source": source, "reason": reason, "client": client},
        )
        self.log(f"rejected a {source} webhook from {client}: {reason}")

    def tick(self, trigger: str = "interval") -> list[TickOutcome]:
        """Sync every watched environment once (the ones left when :meth:`stop` is
        called are skipped)."""
        self._used = set()
        if self.remote is not None:
            self._fetch(strict=False)
        try:
            self.watches = self._watched(strict=False)
        except Exception as exc:  # noqa: BLE001 - reported and recorded; the loop goes on
            self._failed(None, "discover", exc)
            self.log(f"cannot read the environments ({exc}); keeping the last known ones")
        outcomes = []
        for watch in list(self.watches):
            if self._stopping.is_set():
                break
            outcome = self._sync(watch, trigger)
            self.last[watch.environment] = outcome
            outcomes.append(outcome)
            self.report(outcome)
        self._snapshots = {k: v for k, v in self._snapshots.items() if k in self._used}
        self._meter()
        self.last_tick = datetime.now(UTC)
        self.ticks += 1
        self._after_tick()
        return outcomes

    def _sync(self, watch: Watch, trigger: str) -> TickOutcome:
        at, clock = datetime.now(UTC), time.monotonic()
        revision = None

        def error(exc: Exception) -> TickOutcome:
            code = exc.exit_code if isinstance(exc, AlignOpsError) else 3
            if not isinstance(exc, AlignOpsError) and os.environ.get("ALIGNOPS_DEBUG"):
                self.log("".join(traceback.format_exception(exc)))
            return TickOutcome(
                watch.environment,
                trigger,
                revision,
                "error",
                at,
                time.monotonic() - clock,
                error=type(exc).__name__,
                message=str(exc),
                exit_code=code,
            )

        try:
            revision = self._tip(watch.ref)
            snapshot = self._snapshot(revision)
        except Exception as exc:  # noqa: BLE001 - reported and recorded; the loop goes on
            self._failed(watch, "load", exc)
            return error(exc)
        try:
            if self._in_sync(watch, snapshot):
                seconds = time.monotonic() - clock
                return TickOutcome(watch.environment, trigger, revision, "in sync", at, seconds)
        except Exception:  # noqa: BLE001 - could not tell: the full sync below will say
            pass
        try:  # sync records its own failures (sync.failed)
            result = sync(
                snapshot,
                environment=watch.environment,
                context=self.context,
                audit=self.audit,
                evidence_store=self.evidence_store,
                on_verdict=self.on_verdict,
                # An automatic rollback commits to the local branch: only when that is
                # what the controller delivers.
                repository=self.repository if self.remote is None else None,
            )
        except Exception as exc:  # noqa: BLE001 - as above
            return error(exc)
        if result.outcome == "synced":
            self._synced[watch.environment] = revision
        else:
            self._synced.pop(watch.environment, None)
        return TickOutcome(
            watch.environment,
            trigger,
            revision,
            result.outcome,
            at,
            time.monotonic() - clock,
            result,
            exit_code=0 if result.outcome == "synced" else 1,
        )

    def _in_sync(self, watch: Watch, snapshot: Snapshot) -> bool:
        """The revision this controller last synced is still the tip, the plan is empty
        and every service is healthy: nothing to do, and nothing worth recording (a sync
        every 30 s would write thousands of identical records a day). Read-only; any
        change — a new commit, a killed service, an unhealthy one — makes a full sync."""
        if self._synced.get(watch.environment) != snapshot.revision:
            return False
        providers = open_providers(snapshot, self.context)
        planned = plan_environment(snapshot, watch.environment, providers, audit=self.audit)
        if any(a.name not in planned.skipped for a in planned.plan.actions):
            return False
        return all(h.ok for h in declared_health(planned, providers).values())

    # -- helpers ------------------------------------------------------------------------

    def _meter(self) -> None:
        """Price the telemetry written since the last tick into cost records, so the
        ledger is current without anyone running ``alignops cost usage``."""
        try:
            meter(self.repository, state_dir=self.context.state_dir, database=self.audit.db)
        except Exception as exc:  # noqa: BLE001 - reported and recorded; the loop goes on
            self._failed(None, "meter", exc)
            self.log(f"metering failed: {exc}")

    def _after_tick(self) -> None:
        """The hook given to the constructor (the monitor, in ``alignops server``)."""
        if self.after_tick is None:
            return
        try:
            self.after_tick()
        except Exception as exc:  # noqa: BLE001 - reported and recorded; the loop goes on
            self._failed(None, "after-tick", exc)
            self.log(f"after the tick: {type(exc).__name__}: {exc}")

    def _fetch(self, *, strict: bool) -> None:
        """Fetch the remote; a failure (the network) is reported, and what was fetched
        before is delivered. With ``strict``, an unknown remote is raised."""
        assert self.remote is not None
        try:
            self.repository.fetch(self.remote)
        except AlignOpsError as exc:
            if strict and isinstance(exc, UsageError):
                raise
            self._failed(None, "fetch", exc)
            self.log(f"{exc}; syncing what was fetched before")

    def _tip(self, ref: str) -> str:
        return str(self.repository.resolve(ref).id)

    def _snapshot(self, revision: str) -> Snapshot:
        """Snapshots are immutable: one per commit is read once, and kept while a tick
        uses it."""
        self._used.add(revision)
        snapshot = self._snapshots.get(revision)
        if snapshot is None:
            snapshot = self._snapshots[revision] = self.repository.snapshot(revision)
        return snapshot

    def _failed(self, watch: Watch | None, step: str, exc: Exception) -> None:
        """A failure outside :func:`sync` (which records its own)."""
        subject = watch.environment if watch is not None else "controller"
        payload: dict[str, Any] = {"step": step, "error": type(exc).__name__, "message": str(exc)}
        if watch is not None:
            payload = {"environment": watch.environment, "ref": watch.ref, **payload}
        with contextlib.suppress(AlignOpsError):  # the database itself may be what failed
            self.audit.append("controller.failed", subject, payload)

    def health(self) -> dict[str, Any]:
        """``GET /healthz``."""
        last = self.last_tick.isoformat(timespec="seconds") if self.last_tick else None
        return {
            "status": "stopping" if self.stopping else "ok",
            "pid": os.getpid(),
            "startedAt": self.started_at.isoformat(timespec="seconds"),
            "interval": self.interval,
            "lastTick": last,
            "ticks": self.ticks,
            "watching": [w.to_dict() for w in self.watches],
            "environments": {name: o.summary() for name, o in dict(self.last).items()},
        }


@contextlib.contextmanager
def _locked(providers: Mapping[str, Provider], environment: str) -> Iterator[None]:
    """The providers' sync locks, in a fixed order (as a sync takes them)."""
    with contextlib.ExitStack() as stack:
        for name in sorted(providers):
            stack.enter_context(providers[name].lock(environment))
        yield

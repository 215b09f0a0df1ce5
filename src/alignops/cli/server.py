"""``alignops server``: the controller loop, with push webhooks and ``/healthz``.

One line per environment per tick on stdout (``-o json``: one JSON object per line);
startup, recovery and rejected webhooks on stderr. SIGTERM or Ctrl-C finishes the
current sync and exits 0. docs/delivery.md#controller has examples.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from prometheus_client import CollectorRegistry

from alignops.cli.context import DbOption, RepoOption, open_audit_log, open_repository
from alignops.cli.deliver import gate_evidence
from alignops.cli.output import EXIT_OK, Format, OutputOption, errors_reported
from alignops.errors import UsageError
from alignops.reconcile.controller import Controller, TickOutcome
from alignops.reconcile.metrics import ControllerMetrics, controller_registry, renderer
from alignops.reconcile.providers import ProviderContext
from alignops.reconcile.webhooks import WebhookReceiver

if TYPE_CHECKING:
    from alignops.monitor import Monitor

__all__ = ["server_command"]

DEFAULT_LISTEN = "127.0.0.1:8788"
_ALWAYS = ("created", "updated", "deleted", "unchanged", "skipped", "failed", "unhealthy")
_WORDS = {"rolledBack": "rolled back"}


def server_command(
    environments: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            help="Keep only this environment in sync (repeat for more). Default: every "
            "environment with autoSync: true.",
            show_default=False,
        ),
    ] = None,
    interval: Annotated[
        float, typer.Option(help="Seconds between the end of one tick and the next.", min=0.1)
    ] = 30.0,
    listen: Annotated[
        str,
        typer.Option(
            help="HOST:PORT for the webhooks and /healthz (port 0: any free port); '' "
            "turns the HTTP server off (polling only)."
        ),
    ] = DEFAULT_LISTEN,
    webhook_secret_env: Annotated[
        str,
        typer.Option(
            help="Environment variable holding the webhook secret. Unset: the webhook "
            "endpoints answer 503 and only polling runs."
        ),
    ] = "ALIGNOPS_WEBHOOK_SECRET",
    remote: Annotated[
        str | None,
        typer.Option(
            help="Fetch this remote each tick and deliver refs/remotes/REMOTE/<branch> "
            "instead of the local branches.",
            show_default=False,
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run one tick and exit (no HTTP server).")
    ] = False,
    output: OutputOption = Format.text,
    repo: RepoOption = Path("."),
    db: DbOption = None,
) -> None:
    """Keep environments in sync with their branches: each tick (every --interval
    seconds, or at once on a verified push webhook) gate and sync the tip of the branch
    of every environment with autoSync: true. Every step goes to the audit log.

    Exit codes: 0 when stopped by SIGTERM or Ctrl-C; with --once, like `alignops sync`
    (0 synced, 1 refused or failed, 2 input error, 3 internal error; the highest of all
    environments).
    """
    fmt = output.value
    with contextlib.ExitStack() as cleanup:
        with errors_reported(fmt):
            repository = open_repository(repo)
            if not repository.head():
                raise UsageError(f"{repository.root} has no commits yet; commit the config first")
            audit = open_audit_log(db, repository.root)
            cleanup.callback(audit.db.close)
            store, on_verdict = gate_evidence(repository)
            from alignops.monitor import Monitor  # loads the monitor's machinery
            from alignops.monitor.metrics import MonitorMetrics

            monitor = Monitor(
                repository,
                database=audit.db,
                audit=audit,
                environments=tuple(environments or ()),
                remote=remote,
                evidence_store=store,
            )
            metrics = ControllerMetrics()
            controller = Controller(
                repository,
                audit=audit,
                context=ProviderContext(repository.root / ".alignops", audit.db),
                evidence_store=store,
                on_verdict=on_verdict,
                environments=tuple(environments or ()),
                remote=remote,
                interval=interval,
                report=metrics.reporting(_json_line if fmt == "json" else _text_line),
                log=_log,
                after_tick=_monitoring(monitor),
            )
            metrics.watch(controller)
            registry = controller_registry(metrics)
            registry.register(MonitorMetrics(monitor))
            # Bound before anything is recorded: a port in use changes nothing.
            receiver = (
                None
                if once
                else _receiver(controller, listen, webhook_secret_env, metrics, registry)
            )
            if receiver is not None:
                cleanup.callback(receiver.stop)
            metrics.recovered(controller.start())
        if once:
            outcomes = controller.tick("once")
            raise typer.Exit(max((o.exit_code for o in outcomes), default=EXIT_OK))
        _serve(controller, receiver, webhook_secret_env)


def _serve(controller: Controller, receiver: WebhookReceiver | None, secret_env: str) -> None:
    watching = ", ".join(f"{w.environment} ({w.ref})" for w in controller.watches)
    _log(f"watching {watching}; a tick every {controller.interval:g} s")
    if receiver is not None:
        if receiver.secret is None:
            _log(f"webhooks off: {secret_env} is not set (polling only)")
        _log(
            f"listening on {receiver.url} "
            "(POST /hooks/github, /hooks/gitlab; GET /healthz, /metrics)"
        )
        receiver.start()

    def stop(signum: int, _frame: Any) -> None:
        _log(f"{signal.Signals(signum).name}: finishing the current sync, then stopping")
        controller.stop()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        controller.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    _log("stopped")


def _monitoring(monitor: Monitor) -> Callable[[], None]:
    """The monitor's tick, run after each controller tick. Stdout stays one line per
    environment and tick (``-o json`` readers parse it); what the monitor did — when it
    did anything — and its problems go to stderr with the other logs
    (docs/monitoring.md)."""

    def tick() -> None:
        report = monitor.tick()
        c = report.counts()
        moved = ("opened", "updated", "resolved", "sent", "retrying", "failed", "waiting")
        if any(c[k] for k in moved):
            _log(
                f"monitor: {c['judged']} judged · {c['opened']} opened · {c['updated']} "
                f"updated · {c['resolved']} resolved · notifications: {c['sent']} sent, "
                f"{c['retrying']} retrying, {c['failed']} failed, {c['waiting']} waiting"
            )
        for problem in report.problems:
            _log(f"monitor: {problem}")

    return tick


def _address(listen: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) → (host, port); '' → None."""
    if not listen.strip():
        return None
    host, sep, port = listen.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen {listen!r}: expected HOST:PORT, like {DEFAULT_LISTEN}")
    return host, int(port)


def _receiver(
    controller: Controller,
    listen: str,
    secret_env: str,
    metrics: ControllerMetrics,
    registry: CollectorRegistry,
) -> WebhookReceiver | None:
    address = _address(listen)
    if address is None:
        return None
    secret = os.environ.get(secret_env, "")
    try:
        return WebhookReceiver(
            *address,
            secret=secret.encode() or None,
            on_push=metrics.counting_pushes(controller.wake),
            on_rejected=metrics.counting_rejections(controller.rejected),
            health=controller.health,
            metrics=renderer(registry),
        )
    except OSError as exc:
        raise UsageError(f"--listen {address[0]}:{address[1]}: {exc.strerror or exc}") from None


def _text_line(outcome: TickOutcome) -> None:
    head = (
        f"{outcome.at.isoformat(timespec='seconds')} {outcome.environment} "
        f"{(outcome.revision or '-')[:12]} {outcome.outcome} "
        f"({outcome.trigger}, {outcome.seconds:.1f} s)"
    )
    result = outcome.result
    if result is None:
        detail = f"{outcome.error}: {_first_line(outcome.message)}"
    elif result.outcome == "refused":
        denials = "; ".join(f"{d['resource']}: {d['message']}" for d in result.denials)
        detail = f"the gate denied it: {denials}"
    else:
        counts = result.counts()
        detail = " · ".join(
            f"{n} {_WORDS.get(k, k)}" for k, n in counts.items() if n or k in _ALWAYS
        )
        problems = [f"{a.service}: {_first_line(a.message)}" for a in result.failures]
        problems += [f"{name}: {h.reason}" for name, h in result.unhealthy.items()]
        if problems:
            detail += " — " + "; ".join(problems)
    _write(sys.stdout, f"{head}: {detail}")


def _json_line(outcome: TickOutcome) -> None:
    _write(sys.stdout, json.dumps(outcome.to_dict(), default=str))


def _log(message: str) -> None:
    _write(sys.stderr, f"{datetime.now(UTC).isoformat(timespec='seconds')} {message}")


def _write(stream: Any, line: str) -> None:
    stream.write(line + "\n")
    stream.flush()  # a line as it happens, also into a pipe or a log file


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""

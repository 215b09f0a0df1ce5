"""The notifier: notifications into the outbox, and the outbox out to the routes.

:meth:`Notifier.enqueue` writes one ``pending`` row per route a notification goes to
(``routes.py`` says which), unless that route already has one with the same
``dedup_key``. :meth:`Notifier.dispatch` sends the rows that are due, one route's
failure never stopping another's:

- a failed attempt (HTTP ≥ 300, refused connection, timeout, SMTP refusal) counts an
  attempt and waits ``backoffSeconds · 2^(attempts−1)`` (at most an hour); attempt
  ``maxAttempts`` failing makes the row ``failed`` (audit ``notification.failed``);
- a route that cannot send at all (its secret is not there) keeps its rows pending and
  due, uses no attempt, and says why in ``last_error`` (audit ``notification.waiting``
  once per row and reason);
- a route that sent ``rateLimit.maxPerHour`` in the last hour holds its due rows: they
  stay pending, due again when the oldest of those sends leaves the hour (so a storm on
  one route never keeps other routes' rows from being reached);
- a send is ``sent`` (audit ``notification.sent``).

Secrets are read just before a send and never stored, logged, audited or raised: every
error text passes through :func:`~alignops.notify.secrets.redact` first.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from alignops.audit.log import AuditLog
from alignops.manifests.config import NotificationSettings
from alignops.manifests.kinds.alertroute import AlertRoute
from alignops.notify.channels import CHANNELS, DeliveryError, Envelope, SendContext
from alignops.notify.notification import Notification, absolute_links, format_time, now_utc
from alignops.notify.outbox import NewRow, Outbox, OutboxRow
from alignops.notify.report import Delivery, DispatchReport, Enqueued
from alignops.notify.routes import Route, RouteTable
from alignops.notify.secrets import Secret, SecretUnavailable, read_secret, redact
from alignops.store.db import Database

__all__ = ["MAX_BACKOFF_SECONDS", "RATE_WINDOW", "Notifier", "backoff_delay"]

log = logging.getLogger("alignops.notify")

MAX_BACKOFF_SECONDS = 3600.0
"""The longest wait between two attempts."""
RATE_WINDOW = timedelta(hours=1)
"""``rateLimit.maxPerHour`` counts the sends of this sliding window."""
_MIN_LEASE_SECONDS = 60.0


def backoff_delay(backoff_seconds: float, attempts: int) -> float:
    """Seconds to wait after failed attempt number ``attempts`` (1, 2, …):
    ``backoff · 2^(attempts−1)``, at most :data:`MAX_BACKOFF_SECONDS`."""
    exponent = min(max(attempts - 1, 0), 40)
    return float(min(backoff_seconds * 2.0**exponent, MAX_BACKOFF_SECONDS))


class Notifier:
    """Routes notifications into the outbox and sends them from it (decision 0028)."""

    def __init__(
        self,
        routes: Sequence[AlertRoute],
        settings: NotificationSettings,
        *,
        database: Database,
        audit: AuditLog | None,
        root: Path,
        clock: Callable[[], datetime] = now_utc,
        ssl_context: ssl.SSLContext | None = None,
        log_stream: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """``routes``: the ``AlertRoute`` resources of the config repository; ``root``:
        its folder (secret files are relative to it); ``clock``: the time (tests move
        it); ``ssl_context``: trust for HTTPS and STARTTLS if not the system's;
        ``log_stream``: where ``log`` targets write (standard error); ``environ``: where
        ``secretRef.env`` is looked up (the process environment)."""
        self.table = RouteTable(routes)
        self.settings = settings
        self.outbox = Outbox(database)
        self.audit = audit
        self.root = root
        self.clock = clock
        self._context = SendContext(settings, ssl_context=ssl_context, log_stream=log_stream)
        self._environ = environ

    def __repr__(self) -> str:
        names = ", ".join(r.name for r in self.table.routes)
        return f"Notifier(routes=[{names}], outbox={self.outbox.database.url})"

    # -- enqueue --------------------------------------------------------------------------

    def enqueue(
        self,
        notification: Notification,
        *,
        targets: Sequence[str] = (),
        routes: Sequence[str] = (),
    ) -> Enqueued:
        """Write ``notification`` to the outbox for every route it goes to: the routes of
        ``targets`` (a policy's ``alertTarget``), the routes called ``routes`` (a
        ``Budget``'s ``routes``) and those whose ``match`` selects it. Idempotent per
        route and ``dedup_key``. A named ``slack://``/``webhook://`` target that no route
        declares, a target no channel knows or a route name that does not exist is
        returned in ``problems``, recorded as a ``failed`` row and audited
        (``notification.unrouted``) the first time."""
        selection = self.table.select(notification, targets, routes)
        rows = [NewRow(r.name, r.target.text) for r in selection.routes]
        rows += [NewRow(u.target, u.target, "failed", u.reason) for u in selection.unrouted]
        written, existing = self.outbox.add(
            rows,
            dedup_key=notification.dedup_key,
            kind=notification.kind,
            payload=notification.to_payload(),
            now=format_time(self.clock()),
        )
        unrouted_rows = {u.target[:253] for u in selection.unrouted}
        pending: list[int] = []
        for row_id in written:
            row = self.outbox.get(row_id)
            assert row is not None
            if row.status == "failed" and row.route in unrouted_rows:
                log.warning("notification %s cannot be sent: %s", row_id, row.last_error)
                self._audit(
                    "notification.unrouted",
                    row,
                    error=row.last_error,
                    title=notification.title,
                )
            else:
                pending.append(row_id)
        return Enqueued(pending, existing=existing, problems=selection.unrouted)

    # -- dispatch -------------------------------------------------------------------------

    def dispatch(self, *, limit: int = 500) -> DispatchReport:
        """Send the rows that are due (at most ``limit``). Never raises for a route's
        failure: it is in the report, in the row and, when final, in the audit log."""
        started = self.clock()
        due = self.outbox.due(format_time(started), limit=limit)
        recent = self.outbox.sent_since(format_time(started - RATE_WINDOW))
        report: dict[str, list[Delivery]] = {
            "sent": [],
            "retrying": [],
            "failed": [],
            "held": [],
            "waiting": [],
        }
        for row in due:
            route = self.table.get(row.route)
            if route is None:
                invalid = self.table.invalid.get(row.route)
                error = (
                    f"route {row.route}: no AlertRoute of that name exists any more; "
                    "the notification is not sent"
                    if invalid is None
                    else f"route {row.route}: {invalid.reason}"
                )
                self.outbox.mark_failed(row.id, attempts=row.attempts, error=error)
                self._audit("notification.failed", row, attempts=row.attempts, error=error)
                report["failed"].append(_delivery(row, row.attempts, error))
                continue
            sends = recent.setdefault(route.name, [])
            if len(sends) >= route.max_per_hour:
                oldest = datetime.fromisoformat(sends[len(sends) - route.max_per_hour])
                release = format_time(oldest + RATE_WINDOW)
                if self.outbox.hold(row, until=release):
                    report["held"].append(_delivery(row, row.attempts, None, release))
                continue
            if not self.outbox.claim(row, lease_until=format_time(self.clock() + self._lease())):
                continue  # another dispatcher is sending it
            outcome, delivery = self._send(row, route)
            report[outcome].append(delivery)
            if outcome == "sent":
                sends.append(format_time(self.clock()))
        if any(report.values()):
            log.info(
                "notifications dispatched: %s",
                ", ".join(f"{len(v)} {k}" for k, v in report.items() if v),
            )
        return DispatchReport(**{k: tuple(v) for k, v in report.items()})

    def _lease(self) -> timedelta:
        """How long a claimed row is left alone: a send takes at most a few timeouts."""
        timeout = max(self.settings.timeout_seconds, self.settings.smtp.timeout_seconds)
        return timedelta(seconds=max(_MIN_LEASE_SECONDS, 4 * timeout))

    def _send(self, row: OutboxRow, route: Route) -> tuple[str, Delivery]:
        """One attempt for one claimed row; the outcome and the row as left."""
        channel = CHANNELS[route.target.channel]
        secrets: list[Secret] = []
        try:
            ref = channel.secret_ref(route, self.settings)
            secret = (
                None if ref is None else read_secret(ref, root=self.root, environ=self._environ)
            )
            if secret is not None:
                secrets.append(secret)
            notification = Notification.from_payload(row.payload)
            envelope = Envelope(
                id=row.id,
                route=route.name,
                target=route.target,
                notification=notification,
                links=absolute_links(notification.links, self.settings.links_base_url),
                sent_at=self.clock(),
            )
            channel.send(envelope, secret, self._context)
        except SecretUnavailable as exc:
            return "waiting", self._wait(row, route, redact(exc.message, secrets))
        except DeliveryError as exc:
            return self._failed_attempt(row, route, redact(exc.message, secrets))
        except Exception as exc:  # noqa: BLE001 - a route's failure never stops the others
            text = redact(f"{type(exc).__name__}: {exc}", secrets)
            return self._failed_attempt(row, route, text)
        attempts = row.attempts + 1
        self.outbox.mark_sent(row.id, attempts=attempts, sent_at=format_time(self.clock()))
        self._audit("notification.sent", row, attempts=attempts)
        return "sent", _delivery(row, attempts, None)

    def _failed_attempt(self, row: OutboxRow, route: Route, reason: str) -> tuple[str, Delivery]:
        attempts = row.attempts + 1
        error = f"route {route.name} ({route.target.text}): attempt {attempts}: {reason}"
        if attempts >= self.settings.max_attempts:
            self.outbox.mark_failed(row.id, attempts=attempts, error=error)
            log.warning("notification %s failed for good: %s", row.id, error)
            self._audit("notification.failed", row, attempts=attempts, error=error)
            return "failed", _delivery(row, attempts, error)
        delay = backoff_delay(self.settings.backoff_seconds, attempts)
        next_at = format_time(self.clock() + timedelta(seconds=delay))
        self.outbox.mark_retry(row.id, attempts=attempts, next_attempt_at=next_at, error=error)
        log.warning("notification %s will be retried at %s: %s", row.id, next_at, error)
        return "retrying", _delivery(row, attempts, error, next_at)

    def _wait(self, row: OutboxRow, route: Route, reason: str) -> Delivery:
        error = f"route {route.name}: {reason}"
        now = format_time(self.clock())
        if self.outbox.mark_waiting(row.id, next_attempt_at=now, error=error):
            log.warning("notification %s waits: %s", row.id, error)
            self._audit("notification.waiting", row, attempts=row.attempts, error=error)
        return _delivery(row, row.attempts, error, now)

    def _audit(self, action: str, row: OutboxRow, **extra: Any) -> None:
        if self.audit is None:
            return
        payload: dict[str, Any] = {
            "id": row.id,
            "route": row.route,
            "target": row.target,
            "kind": row.kind,
            "dedupKey": row.dedup_key,
        }
        payload.update(extra)
        self.audit.append(action, row.route, payload)


def _delivery(
    row: OutboxRow, attempts: int, error: str | None, next_attempt_at: str | None = None
) -> Delivery:
    return Delivery(
        id=row.id,
        route=row.route,
        target=row.target,
        kind=row.kind,
        dedup_key=row.dedup_key,
        attempts=attempts,
        error=error,
        next_attempt_at=next_attempt_at,
    )

"""Notifications: alert routes (Slack, signed webhook, e-mail, log), an outbox, retries.

::

    notifier = Notifier(routes, config.notifications, database=db, audit=audit, root=repo)
    notifier.enqueue(Notification(...), targets=["slack://#ai-ops-alerts"])
    report = notifier.dispatch()      # sent / retrying / failed / held / waiting

See ``docs/notifications.md`` and decision 0028.
"""

from alignops.notify.channels import CHANNELS, Channel, DeliveryError, Envelope, register_channel
from alignops.notify.channels.slack import mrkdwn, render_slack
from alignops.notify.channels.webhook import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    render_webhook,
    sign,
    verify_signature,
)
from alignops.notify.notification import Kind, Notification, Severity, now_utc
from alignops.notify.notifier import MAX_BACKOFF_SECONDS, Notifier, backoff_delay
from alignops.notify.outbox import Outbox, OutboxRow
from alignops.notify.report import Delivery, DispatchReport, Enqueued
from alignops.notify.routes import Route, RouteTable, Unrouted
from alignops.notify.secrets import Secret, SecretUnavailable, read_secret, redact
from alignops.notify.targets import Target, TargetError, parse_target

__all__ = [
    "CHANNELS",
    "DELIVERY_HEADER",
    "MAX_BACKOFF_SECONDS",
    "SIGNATURE_HEADER",
    "Channel",
    "Delivery",
    "DeliveryError",
    "DispatchReport",
    "Enqueued",
    "Envelope",
    "Kind",
    "Notification",
    "Notifier",
    "Outbox",
    "OutboxRow",
    "Route",
    "RouteTable",
    "Secret",
    "SecretUnavailable",
    "Severity",
    "Target",
    "TargetError",
    "Unrouted",
    "backoff_delay",
    "mrkdwn",
    "now_utc",
    "parse_target",
    "read_secret",
    "redact",
    "register_channel",
    "render_slack",
    "render_webhook",
    "sign",
    "verify_signature",
]

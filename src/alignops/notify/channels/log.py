"""``log``: one JSON line on standard error (or the stream the notifier was given).

The line is the webhook body plus the delivery id, route and target; it holds no secret
(notifications never do, and the ``log`` channel reads none).
"""

from __future__ import annotations

import json
import sys

from alignops.manifests.config import NotificationSettings
from alignops.manifests.kinds.alertroute import SecretRef
from alignops.notify.channels.base import Channel, Envelope, SendContext, register_channel
from alignops.notify.channels.webhook import render_webhook
from alignops.notify.routes import Route
from alignops.notify.secrets import Secret

__all__ = ["LogChannel"]


@register_channel("log")
class LogChannel(Channel):
    """Writes the notification as a JSON line."""

    def secret_ref(self, route: Route, settings: NotificationSettings) -> SecretRef | None:
        return None

    def send(self, envelope: Envelope, secret: Secret | None, context: SendContext) -> None:
        line = {
            "notification": envelope.id,
            "route": envelope.route,
            "target": envelope.target.text,
            **render_webhook(envelope),
        }
        stream = context.log_stream or sys.stderr
        stream.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
        stream.flush()

"""``webhook://host[:port]/path`` (HTTP) and ``webhooks://…`` (HTTPS): signed JSON.

The body is one JSON object::

    {"kind", "title", "severity", "fields", "labels", "text", "links", "details",
     "dedupKey", "sentAt"}

sent with ``X-Alignops-Delivery: <outbox id>`` and, when the route has a ``secretRef``
(the HMAC key), ``X-Alignops-Signature-256: sha256=<hex HMAC-SHA256 of the exact body
bytes>``, the scheme GitHub uses. A receiver recomputes the HMAC over the raw body it
read (before parsing it), compares in constant time (:func:`verify_signature`), may
refuse a ``sentAt`` that is too old (replays), and drops a ``dedupKey`` it has already
handled (delivery is at least once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from alignops.notify.channels.base import Channel, Envelope, SendContext, register_channel
from alignops.notify.channels.http import post
from alignops.notify.notification import format_time
from alignops.notify.secrets import Secret

__all__ = [
    "DELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "WebhookChannel",
    "render_webhook",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Alignops-Signature-256"
DELIVERY_HEADER = "X-Alignops-Delivery"


def sign(key: bytes, body: bytes) -> str:
    """The ``X-Alignops-Signature-256`` value for ``body`` under ``key``."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(key: bytes, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``key`` (constant time)."""
    if not key or not header:
        return False
    return hmac.compare_digest(sign(key, body).encode(), header.strip().encode())


def render_webhook(envelope: Envelope) -> dict[str, Any]:
    """The JSON object posted for ``envelope``."""
    n = envelope.notification
    return {
        "kind": n.kind,
        "title": n.title,
        "severity": n.severity,
        "fields": n.fields,
        "labels": n.labels,
        "text": n.text,
        "links": envelope.links,
        "details": n.details,
        "dedupKey": n.dedup_key,
        "sentAt": format_time(envelope.sent_at),
    }


@register_channel("webhook")
class WebhookChannel(Channel):
    """Posts the JSON of the notification, signed when the route has a key."""

    def send(self, envelope: Envelope, secret: Secret | None, context: SendContext) -> None:
        body = json.dumps(render_webhook(envelope), ensure_ascii=False, default=str).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            DELIVERY_HEADER: str(envelope.id),
        }
        if secret is not None:
            headers[SIGNATURE_HEADER] = sign(secret.reveal().encode(), body)
        post(
            envelope.target.address,
            body,
            headers,
            timeout=context.settings.timeout_seconds,
            ssl_context=context.ssl_context,
        )

"""Alert targets as written in Git, parsed: where a channel sends.

==============================  =============  ====================================
target                          channel        sends to
==============================  =============  ====================================
``slack://#ai-ops-alerts``      ``slack``      the incoming-webhook URL in the
                                               route's secret; ``#ai-ops-alerts``
                                               goes in the payload's ``channel``
``webhook://host[:port]/path``  ``webhook``    ``http://host[:port]/path``
``webhooks://host[:port]/path`` ``webhook``    ``https://host[:port]/path``
``mailto:user@host``            ``mailto``     ``user@host`` through SMTP
``log``                         ``log``        one JSON line on standard error
==============================  =============  ====================================

No target string holds a secret: it is written in Git (policies, ``AlertRoute``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

__all__ = ["Target", "TargetError", "parse_target"]

_SLACK = re.compile(r"^slack://(#[\w.-]+)$")
_MAILTO = re.compile(r"^mailto:([^@\s?]+@[^@\s?]+)(\?.*)?$")


class TargetError(ValueError):
    """A target string no channel understands."""


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed target: its channel and address."""

    text: str
    """As written: ``slack://#ai-ops-alerts``."""
    channel: str
    """Key in the channel registry: ``slack``, ``webhook``, ``mailto`` or ``log``."""
    address: str
    """``#ai-ops-alerts``, ``https://hooks.example.com/alignops``, ``ops@example.com``
    or ``stderr``."""

    @property
    def is_http(self) -> bool:
        return self.channel in ("slack", "webhook")


def parse_target(text: str) -> Target:
    """The target ``text`` names; :class:`TargetError` saying what is expected."""
    value = text.strip()
    if value == "log":
        return Target(value, "log", "stderr")
    if match := _SLACK.match(value):
        return Target(value, "slack", match.group(1))
    if match := _MAILTO.match(value):
        return Target(value, "mailto", match.group(1))
    if value.startswith(("webhook://", "webhooks://")):
        return Target(value, "webhook", _webhook_url(value))
    raise TargetError(
        f"unknown alert target {text!r}: expected slack://#channel, "
        "webhook://host/path, webhooks://host/path, mailto:user@host or log"
    )


def _webhook_url(value: str) -> str:
    parts = urlsplit(value)
    if not parts.hostname:
        raise TargetError(f"alert target {value!r} has no host")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise TargetError(f"alert target {value!r} has an invalid port") from None
    if parts.username is not None or parts.password is not None:
        raise TargetError(  # the target is not echoed: it holds a credential
            "a webhook target must not carry credentials (user:password@); "
            "put the key in the route's secretRef"
        )
    scheme = "https" if parts.scheme == "webhooks" else "http"
    return urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))

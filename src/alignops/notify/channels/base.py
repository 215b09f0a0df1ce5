"""The channel contract and its registry.

A channel turns one notification into what a kind of receiver expects and sends it:
``slack`` (incoming-webhook blocks), ``webhook`` (signed JSON), ``mailto`` (SMTP), ``log``
(a JSON line). The notifier only calls:

- :meth:`Channel.secret_ref` — which secret a send through this route needs, if any
  (:class:`~alignops.notify.secrets.SecretUnavailable` when one is needed and no
  reference is configured);
- :meth:`Channel.send` — send one :class:`Envelope`; a :class:`DeliveryError` (or any
  other exception) is a failed attempt, retried later.

Channels hold no state: the secret is handed to :meth:`Channel.send` and dropped after.
"""

from __future__ import annotations

import ssl
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, TextIO, TypeVar

from alignops.errors import AlignOpsError
from alignops.manifests.config import NotificationSettings
from alignops.manifests.kinds.alertroute import SecretRef
from alignops.notify.notification import Notification
from alignops.notify.secrets import Secret
from alignops.notify.targets import Target

if TYPE_CHECKING:
    from alignops.notify.routes import Route

__all__ = [
    "CHANNELS",
    "Channel",
    "DeliveryError",
    "Envelope",
    "SendContext",
    "register_channel",
]


class DeliveryError(AlignOpsError):
    """One attempt to send failed (HTTP status, refused connection, timeout, SMTP
    refusal). The message may quote a library's error; the notifier redacts secrets
    from it before it is stored or logged."""


@dataclass(frozen=True)
class Envelope:
    """One notification on its way to one route."""

    id: int
    """The outbox row: ``X-Alignops-Delivery`` and the e-mail's delivery header."""
    route: str
    target: Target
    notification: Notification
    links: dict[str, str]
    """The notification's links, relative ones joined to ``linksBaseUrl``."""
    sent_at: datetime


@dataclass(frozen=True)
class SendContext:
    """What a send may use besides the envelope and the secret."""

    settings: NotificationSettings
    ssl_context: ssl.SSLContext | None = None
    """Trust for HTTPS and STARTTLS (a private CA); ``None``: the system's."""
    log_stream: TextIO | None = None
    """Where the ``log`` channel writes; ``None``: standard error at send time."""


class Channel(ABC):
    """How one kind of target is sent to."""

    name: ClassVar[str]

    def secret_ref(self, route: Route, settings: NotificationSettings) -> SecretRef | None:
        """The secret a send through ``route`` needs (default: the route's own, if any)."""
        return route.secret_ref

    @abstractmethod
    def send(self, envelope: Envelope, secret: Secret | None, context: SendContext) -> None:
        """Send once; raise :class:`DeliveryError` saying what failed."""


CHANNELS: dict[str, Channel] = {}
"""Every channel by name (the ``channel`` of a parsed target)."""

_C = TypeVar("_C", bound=type[Channel])


def register_channel(name: str) -> Callable[[_C], _C]:
    """Class decorator adding an instance of the channel to :data:`CHANNELS`."""

    def add(cls: _C) -> _C:
        if name in CHANNELS:
            raise RuntimeError(f"channel {name!r} registered twice")
        cls.name = name
        CHANNELS[name] = cls()
        return cls

    return add

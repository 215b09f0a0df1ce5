"""Channels: one module per kind of target, registered in :data:`CHANNELS`."""

from alignops.notify.channels import log, mail, slack, webhook  # noqa: F401 - register
from alignops.notify.channels.base import (
    CHANNELS,
    Channel,
    DeliveryError,
    Envelope,
    SendContext,
    register_channel,
)

__all__ = ["CHANNELS", "Channel", "DeliveryError", "Envelope", "SendContext", "register_channel"]

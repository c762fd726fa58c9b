"""Outbound notification channels: one plugin per channel behind ``base.Sender``.

``senders(http)`` builds the registry the notify activity dispatches through by ``Target.channel``.
"""

from activities.channels.base import (
    DeliveryError,
    DeliveryResult,
    OutboundMessage,
    PermanentDeliveryError,
    Sender,
    Target,
    TransientDeliveryError,
    deliver,
    render,
    senders,
)

__all__ = [
    "DeliveryError",
    "DeliveryResult",
    "OutboundMessage",
    "PermanentDeliveryError",
    "Sender",
    "Target",
    "TransientDeliveryError",
    "deliver",
    "render",
    "senders",
]

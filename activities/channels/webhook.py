"""Generic HTTPS webhook: a signed JSON POST any receiver can verify with ``verify_webhook``.

Signing follows the common Stripe/GitHub shape: HMAC-SHA256 over ``timestamp + "." + raw body``
under the target's secret, sent with the timestamp. Putting the timestamp under the MAC lets a
receiver refuse replays of an old, captured request; signing the *raw* bytes (not a re-serialised
object) means the receiver verifies exactly what arrived. The body itself carries no send time,
so every retry of one notice posts the same bytes and the same ``Idempotency-Key``, and only the
timestamp and signature change.
"""

from __future__ import annotations

import hmac
import json
import re
from datetime import datetime
from typing import Any

import httpx

from activities.channels.base import (
    Clock,
    DeliveryResult,
    OutboundMessage,
    PermanentDeliveryError,
    Target,
    hmac_sha256,
    post,
    raise_for_http_status,
    require,
    short,
    timeout_of,
    utcnow,
)

SIGNATURE_HEADER = "X-Linkage-Signature"
TIMESTAMP_HEADER = "X-Linkage-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE = 300

_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def webhook_body(message: OutboundMessage) -> bytes:
    """The JSON bytes posted for a message: deterministic, so retries send identical bytes."""
    payload: dict[str, Any] = {
        "idempotency_key": message.idempotency_key,
        "kind": message.kind,
        "title": message.title,
        "text": message.text,
        "markdown": message.markdown,
        "link": message.link,
        "mentions_mobiles": message.mentions_mobiles,
        "created_at": message.created_at.isoformat(),
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode(
        "utf-8"
    )


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, timestamp + "." + body)."""
    digest = hmac_sha256(secret, timestamp.encode("ascii") + b"." + body)
    return SIGNATURE_PREFIX + digest.hex()


def verify_webhook(
    secret: str,
    timestamp: str | int,
    body: bytes,
    signature: str,
    now: datetime | float,
    tolerance: int = DEFAULT_TOLERANCE,
) -> bool:
    """What a receiver calls: is this request ours, unaltered and fresh?

    ``timestamp`` and ``signature`` are the ``X-Linkage-Timestamp`` and ``X-Linkage-Signature``
    header values, ``body`` the raw request bytes, ``now`` the receiver's clock (datetime or unix
    seconds). Refuses a timestamp more than ``tolerance`` seconds away from ``now`` in either
    direction (a replay, or a badly wrong clock), then compares in constant time so the comparison
    leaks nothing about how much of a forged signature was right.
    """
    stamp = str(timestamp)
    if not _TIMESTAMP.fullmatch(stamp):
        return False
    now_s = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(now_s - int(stamp)) > tolerance:
        return False
    expected = sign_webhook(secret, stamp, body)
    try:
        given = signature.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), given)


class WebhookSender:
    """POSTs the signed JSON to ``config["url"]``; the target's secret is the HMAC key."""

    channel = "webhook"

    def __init__(self, http: httpx.AsyncClient, clock: Clock = utcnow) -> None:
        self._http = http
        self._clock = clock

    async def send(self, message: OutboundMessage, target: Target) -> DeliveryResult:
        url = str(require(target.config, "url", self.channel))
        if not target.secret:
            # DESIGN promises signed webhooks; sending unsigned would teach receivers to accept
            # anything. A missing secret is a configuration error, so fail for good.
            raise PermanentDeliveryError("webhook target has no secret to sign with")
        key = message.idempotency_key
        if not key or not key.isascii() or not key.isprintable():
            # It travels in a header; a key that cannot be one is a bug upstream, not bad luck.
            raise PermanentDeliveryError(f"idempotency key unfit for a header: {key!r}")
        body = webhook_body(message)
        timestamp = str(int(self._clock().timestamp()))
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_webhook(target.secret, timestamp, body),
            TIMESTAMP_HEADER: timestamp,
            IDEMPOTENCY_HEADER: key,
        }
        response = await post(
            self._http, url, content=body, headers=headers, time_limit=timeout_of(target.config)
        )
        raise_for_http_status(response)
        return DeliveryResult(response.status_code, short(response.text) or "ok")

"""DingTalk (钉钉) custom group robot, with the documented "加签" signature.

The robot URL (``config["url"]``, ``https://oapi.dingtalk.com/robot/send?access_token=T``) gets
``timestamp`` (milliseconds) and ``sign`` = URL-quoted base64(HMAC-SHA256(key=secret,
msg=f"{timestamp}\\n{secret}")). DingTalk refuses a timestamp more than an hour from its clock, so
the signature is computed per attempt, never cached. Without a secret the robot must be protected
by keywords or an IP allow-list instead, and the URL is sent unsigned.

DingTalk answers HTTP 200 to almost everything; the JSON ``errcode`` decides (see ``robot_reply``).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote_plus, urlsplit, urlunsplit

import httpx

from activities.channels.base import (
    Clock,
    DeliveryResult,
    OutboundMessage,
    PermanentDeliveryError,
    Target,
    hmac_sha256,
    post,
    require,
    robot_reply,
    timeout_of,
    utcnow,
)

TRANSIENT_ERRCODES = frozenset({-1, 130101})
"""-1: system busy; 130101: sending too fast (20 messages a minute per robot)."""


def dingtalk_sign(secret: str, timestamp_ms: str) -> str:
    """The documented ``sign`` query value, already URL-quoted (``quote_plus`` of the base64)."""
    digest = hmac_sha256(secret, f"{timestamp_ms}\n{secret}".encode())
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def signed_url(url: str, secret: str | None, timestamp_ms: str) -> str:
    """The robot URL with ``timestamp`` and ``sign`` appended.

    Built as a string rather than through an HTTP library's params, because ``sign`` is already
    quoted as DingTalk documents and must not be quoted a second time. A ``timestamp``/``sign``
    pasted into the configured URL from an earlier test call is dropped, as it would be stale.
    """
    if secret is None:
        return url
    parts = urlsplit(url)
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair and pair.split("=", 1)[0] not in ("timestamp", "sign")
    ]
    kept += [f"timestamp={timestamp_ms}", f"sign={dingtalk_sign(secret, timestamp_ms)}"]
    return urlunsplit(parts._replace(query="&".join(kept)))


def dingtalk_body(message: OutboundMessage, msgtype: str = "markdown") -> dict[str, Any]:
    """The documented robot body. Each @mobile is also written into the text: DingTalk only
    highlights and notifies a mention whose ``@mobile`` appears in the content."""
    mobiles = list(message.mentions_mobiles)
    at = {"atMobiles": mobiles, "isAtAll": False}
    if msgtype == "text":
        return {
            "msgtype": "text",
            "text": {"content": _with_mentions(message.text, mobiles, "\n")},
            "at": at,
        }
    if msgtype == "markdown":
        return {
            "msgtype": "markdown",
            "markdown": {
                "title": message.title,
                "text": _with_mentions(message.markdown, mobiles, "\n\n"),
            },
            "at": at,
        }
    raise PermanentDeliveryError(f"dingtalk msgtype {msgtype!r} is not supported")


def _with_mentions(content: str, mobiles: list[str], sep: str) -> str:
    missing = [m for m in mobiles if f"@{m}" not in content]
    if not missing:
        return content
    return content + sep + " ".join(f"@{m}" for m in missing)


class DingTalkSender:
    channel = "dingtalk"

    def __init__(self, http: httpx.AsyncClient, clock: Clock = utcnow) -> None:
        self._http = http
        self._clock = clock

    async def send(self, message: OutboundMessage, target: Target) -> DeliveryResult:
        url = str(require(target.config, "url", self.channel))
        body = dingtalk_body(message, str(target.config.get("msgtype", "markdown")))
        timestamp_ms = str(int(self._clock().timestamp() * 1000))
        response = await post(
            self._http,
            signed_url(url, target.secret or None, timestamp_ms),
            content=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8"},
            time_limit=timeout_of(target.config),
        )
        return robot_reply(response, TRANSIENT_ERRCODES)

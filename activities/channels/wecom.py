"""WeCom (企业微信) group robot.

No signature: the ``key`` in the URL is the credential. It may sit in ``config["url"]``
(``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K``) or, better, in the target's secret so
that the config can be shown without leaking it.

Markdown is the default look, but WeCom markdown can only mention ``<@userid>``, not a mobile; a
message that must @ people by mobile goes as text with ``mentioned_mobile_list``. Both bodies are
cut to WeCom's byte limits (text 2048, markdown 4096), since an over-long body is refused whole.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import httpx

from activities.channels.base import (
    MARKDOWN_LIMIT_BYTES,
    TEXT_LIMIT_BYTES,
    DeliveryResult,
    OutboundMessage,
    PermanentDeliveryError,
    Target,
    post,
    robot_reply,
    timeout_of,
    truncate_utf8,
)

DEFAULT_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"

TRANSIENT_ERRCODES = frozenset({-1, 45009, 45033})
"""-1: system busy; 45009: frequency limit (20 a minute per robot); 45033: concurrency limit."""


def wecom_url(config: dict[str, Any], secret: str | None) -> str:
    url = str(config.get("url") or DEFAULT_URL)
    parts = urlsplit(url)
    has_key = any(name == "key" for name, _ in parse_qsl(parts.query))
    if has_key:
        return url
    if not secret:
        raise PermanentDeliveryError("wecom target has no key (neither in its url nor as secret)")
    query = "&".join(p for p in (parts.query, f"key={quote(secret, safe='')}") if p)
    return urlunsplit(parts._replace(query=query))


def wecom_body(message: OutboundMessage, msgtype: str | None = None) -> dict[str, Any]:
    """The documented robot body, within WeCom's byte limits.

    ``msgtype`` None picks markdown unless someone must be @-mentioned by mobile.
    """
    if msgtype is None:
        msgtype = "text" if message.mentions_mobiles else "markdown"
    if msgtype == "markdown":
        return {
            "msgtype": "markdown",
            "markdown": {"content": truncate_utf8(message.markdown, MARKDOWN_LIMIT_BYTES)},
        }
    if msgtype == "text":
        text: dict[str, Any] = {"content": truncate_utf8(message.text, TEXT_LIMIT_BYTES)}
        if message.mentions_mobiles:
            text["mentioned_mobile_list"] = list(message.mentions_mobiles)
        return {"msgtype": "text", "text": text}
    raise PermanentDeliveryError(f"wecom msgtype {msgtype!r} is not supported")


class WeComSender:
    channel = "wecom"

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def send(self, message: OutboundMessage, target: Target) -> DeliveryResult:
        msgtype = target.config.get("msgtype")
        body = wecom_body(message, str(msgtype) if msgtype else None)
        response = await post(
            self._http,
            wecom_url(target.config, target.secret),
            content=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8"},
            time_limit=timeout_of(target.config),
        )
        return robot_reply(response, TRANSIENT_ERRCODES)

"""The outbound channel interface: one message shape, one target shape, one ``send`` per channel.

Every channel (generic webhook, DingTalk robot, WeCom robot, email) is a small class with a single
``send(message, target)`` coroutine, picked by ``target.channel`` from the registry that
``senders()`` builds. The notify activity owns retries, backoff and the notifications table; a
sender only performs one attempt and says, through the exception it raises, whether another attempt
could succeed (``TransientDeliveryError``) or not (``PermanentDeliveryError``). That split is the
whole contract with the activity: "a 4xx is final" (DESIGN "Notifications") is decided here, once
per channel, not by the caller guessing from strings.

Messages are rendered once, channel-neutral (``render``): a plain text and a markdown body, both
already within the tightest limits we send to (WeCom: 2048 bytes of text, 4096 of markdown), so a
sender only trims defensively and never has to re-lay-out a notice.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx

Clock = Callable[[], datetime]
"""Returns the current time (aware). Injected so tests can pin signatures' timestamps."""

DISPLAY_TZ = "Asia/Shanghai"
DEADLINE_FORMAT = "%Y-%m-%d %H:%M"

TEXT_LIMIT_BYTES = 2048
"""WeCom robot text ``content`` limit in UTF-8 bytes: the smallest text limit of our channels."""
MARKDOWN_LIMIT_BYTES = 4096
"""WeCom robot markdown ``content`` limit, in UTF-8 bytes."""

DETAIL_LIMIT = 500
"""How much of a receiver's reply we keep in ``detail``: enough to diagnose, small for the table."""

ELLIPSIS = "…"


def utcnow() -> datetime:
    return datetime.now(UTC)


# ---- shapes ------------------------------------------------------------------------------------


@dataclass
class OutboundMessage:
    """One notice, rendered, ready for any channel.

    ``idempotency_key`` is stable across retries and re-sends of the same notice (workflow id +
    event sequence): delivery is at least once, so receivers dedupe on it.
    """

    idempotency_key: str
    kind: str
    title: str
    text: str
    markdown: str
    link: str | None
    mentions_mobiles: list[str]
    created_at: datetime


@dataclass
class Target:
    """Where one message goes: a channel name, its non-secret settings, and its secret (if any).

    The secret is kept apart from ``config`` so that config can be shown and logged while the
    secret (HMAC key, SMTP password, WeCom key) stays in the secret store.
    """

    channel: str
    config: dict[str, Any] = field(default_factory=dict)
    secret: str | None = None


@dataclass
class DeliveryResult:
    """What one successful attempt returned; recorded in the notifications table."""

    status_code: int | None
    detail: str


class DeliveryError(Exception):
    """One attempt failed. ``status_code`` is the HTTP/SMTP code when the receiver answered."""

    def __init__(self, detail: str, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code

    def __str__(self) -> str:
        if self.status_code is None:
            return self.detail
        return f"{self.status_code}: {self.detail}"


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help: a 4xx, a bad target configuration, a robot's errcode for a bad token,
    a refused signature or a missing keyword. The activity records it as final and alerts the
    supervisors instead of burning its retry budget."""


class TransientDeliveryError(DeliveryError):
    """Another attempt may succeed: a 5xx, a timeout, a dropped connection, a rate limit.

    ``retry_after`` (seconds) carries a receiver's ``Retry-After`` hint so the activity can wait at
    least that long rather than hammering a robot limited to 20 messages a minute.
    """

    def __init__(
        self, detail: str, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(detail, status_code)
        self.retry_after = retry_after


class Sender(Protocol):
    """One channel plugin. Performs exactly one delivery attempt; raises ``DeliveryError``."""

    channel: str

    async def send(self, message: OutboundMessage, target: Target) -> DeliveryResult: ...


# ---- registry -----------------------------------------------------------------------------------


def senders(http: httpx.AsyncClient, clock: Clock = utcnow) -> dict[str, Sender]:
    """All channel plugins keyed by channel name, sharing one HTTP client (one connection pool).

    The concrete modules import this one, so they are imported here, at call time, to keep the
    import graph acyclic.
    """
    from activities.channels.dingtalk import DingTalkSender
    from activities.channels.email import EmailSender
    from activities.channels.webhook import WebhookSender
    from activities.channels.wecom import WeComSender

    plugins: list[Sender] = [
        WebhookSender(http, clock=clock),
        DingTalkSender(http, clock=clock),
        WeComSender(http),
        EmailSender(clock=clock),
    ]
    return {plugin.channel: plugin for plugin in plugins}


async def deliver(
    registry: Mapping[str, Sender], message: OutboundMessage, target: Target
) -> DeliveryResult:
    """Send through the plugin the target names; an unknown channel is a configuration error."""
    sender = registry.get(target.channel)
    if sender is None:
        raise PermanentDeliveryError(f"unknown channel {target.channel!r}")
    return await sender.send(message, target)


# ---- helpers shared by the HTTP channels ------------------------------------------------------


def require(config: Mapping[str, Any], key: str, channel: str) -> Any:
    """A mandatory config value; its absence is permanent (retrying will not add it)."""
    value = config.get(key)
    if value in (None, "", []):
        raise PermanentDeliveryError(f"{channel} target has no {key!r} configured")
    return value


def timeout_of(config: Mapping[str, Any], default: float = 10.0) -> float:
    try:
        return float(config.get("timeout", default))
    except (TypeError, ValueError) as exc:
        raise PermanentDeliveryError(f"bad timeout {config.get('timeout')!r}") from exc


def short(text: str, limit: int = DETAIL_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds; only the delta-seconds form (robots and proxies use it)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def raise_for_http_status(response: httpx.Response) -> None:
    """Map an HTTP status to the retry decision shared by every HTTP channel.

    2xx passes. 408 (request timeout) and 429 (rate limited) are the two 4xx a later attempt can
    fix; every other 4xx means the request itself is wrong (bad URL, bad token, refused signature),
    so it is final. 5xx is the receiver's trouble: retry. 1xx/3xx should never reach us (redirects
    are not followed, deliberately: a signed POST must not be replayed to another host) and mean
    the target URL is wrong.
    """
    code = response.status_code
    if 200 <= code < 300:
        return
    detail = short(response.text or response.reason_phrase)
    if code in (408, 429) or code >= 500:
        raise TransientDeliveryError(detail, code, retry_after_seconds(response))
    raise PermanentDeliveryError(detail, code)


async def post(
    http: httpx.AsyncClient,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    time_limit: float,
) -> httpx.Response:
    """POST once, turning transport failures into the right ``DeliveryError``.

    Timeouts and connection errors are transient. A URL we cannot even form a request for (no
    scheme, unsupported scheme) is a configuration error and therefore permanent — checked before
    the generic transport errors, since httpx files ``UnsupportedProtocol`` under them.
    """
    try:
        return await http.post(
            url, content=content, headers=dict(headers), timeout=time_limit, follow_redirects=False
        )
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise PermanentDeliveryError(f"bad target url: {exc}") from exc
    except httpx.TimeoutException as exc:
        raise TransientDeliveryError(f"timeout: {type(exc).__name__}") from exc
    except httpx.TransportError as exc:
        raise TransientDeliveryError(f"transport error: {type(exc).__name__}: {exc}") from exc


def robot_reply(response: httpx.Response, transient_errcodes: frozenset[int]) -> DeliveryResult:
    """Judge a DingTalk/WeCom robot reply: HTTP status first, then the JSON ``errcode``.

    Both robots answer HTTP 200 even when they refuse the message; only ``errcode == 0`` is a
    delivery. Rate limits and "system busy" are transient; every other errcode (bad token, signature
    mismatch, keyword missing, IP not allowed, bad body) is something a retry cannot fix. A 200 that
    is not JSON is most likely a proxy or captive gateway in the way: transient, so it gets another
    chance and, if it persists, fails loudly at the end of the retry budget.
    """
    raise_for_http_status(response)
    try:
        reply = response.json()
    except ValueError as exc:
        raise TransientDeliveryError(
            f"reply is not JSON: {short(response.text)}", response.status_code
        ) from exc
    if not isinstance(reply, dict) or "errcode" not in reply:
        raise TransientDeliveryError(f"reply has no errcode: {short(response.text)}", 200)
    try:
        errcode = int(reply["errcode"])
    except (TypeError, ValueError) as exc:
        raise TransientDeliveryError(f"unreadable errcode: {short(response.text)}", 200) from exc
    errmsg = str(reply.get("errmsg", ""))
    if errcode == 0:
        return DeliveryResult(response.status_code, f"errcode 0 {errmsg}".strip())
    detail = f"errcode {errcode}: {short(errmsg)}"
    if errcode in transient_errcodes:
        raise TransientDeliveryError(detail, response.status_code, retry_after_seconds(response))
    raise PermanentDeliveryError(detail, response.status_code)


def hmac_sha256(key: str, message: bytes) -> bytes:
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).digest()


# ---- rendering ----------------------------------------------------------------------------------

LEVEL_LABELS: dict[str, str] = {
    "grid": "网格级",
    "village": "村级",
    "township": "乡镇级",
    "county": "县级",
}

KIND_LABELS: dict[str, str] = {
    "registered": "新事项",
    "level_entered": "事项转入",
    "escalated": "事项上报",
    "transferred": "事项转办",
    "reopened": "事项重办",
    "warning": "临期预警",
    "overdue": "超期",
    "overdue_reminder": "超期督办",
    "accept_overdue": "超时未受理",
    "whistle": "吹哨报到",
    "whistled": "吹哨报到",
    "report_overdue": "报到超时",
    "supervise": "督办",
    "supervised": "督办",
    "extension_requested": "延期申请",
    "extension_decided": "延期审批",
    "feedback": "群众评价",
    "closed": "办结",
    "withdrawn": "撤回",
    "delivery_failed": "通知失败",
}


def level_label(level: str | None) -> str | None:
    if level is None:
        return None
    return LEVEL_LABELS.get(level, level)


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, "通知")


def format_deadline(at: datetime, tz: str = DISPLAY_TZ) -> str:
    """``2026-11-25 18:00`` in local (Beijing) time: what a village clerk reads on a phone.

    A naive datetime is taken as UTC, which is what Temporal and the read model store.
    """
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(ZoneInfo(tz)).strftime(DEADLINE_FORMAT)


def truncate_utf8(text: str, max_bytes: int, ellipsis: str = ELLIPSIS) -> str:
    """At most ``max_bytes`` of UTF-8, cut on a character boundary, marked with ``ellipsis``.

    Receivers count bytes, not characters (a Chinese character is 3 bytes), and a cut in the middle
    of a character makes WeCom refuse the whole body, so the cut is made on the encoded bytes and
    the dangling partial character is dropped.
    """
    if max_bytes < 0:
        raise ValueError("max_bytes cannot be negative")
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    mark = ellipsis.encode("utf-8")
    if len(mark) > max_bytes:
        mark = b""
    kept = encoded[: max_bytes - len(mark)].decode("utf-8", errors="ignore")
    return kept + mark.decode("utf-8")


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _fit(head: str, body: str, tail: str, limit: int, sep: str) -> str:
    """Join head, body and tail within ``limit`` bytes, shortening the body first.

    The head (what, where, level, deadline) and the tail (the link) are what a recipient acts on,
    so the free-form body gives way first; only an absurdly long head is itself cut, and the link
    still survives unless it alone is over the limit.
    """
    parts = [p for p in (head, body, tail) if p]
    whole = sep.join(parts)
    if utf8_len(whole) <= limit:
        return whole
    fixed = sep.join(p for p in (head, tail) if p)
    if body:
        budget = limit - utf8_len(fixed) - utf8_len(sep)
        if budget >= utf8_len(ELLIPSIS) + 3:  # room for at least one character and the mark
            return sep.join(p for p in (head, truncate_utf8(body, budget), tail) if p)
    if tail:
        budget = limit - utf8_len(tail) - utf8_len(sep)
        if budget >= utf8_len(ELLIPSIS) + 3:
            return truncate_utf8(head, budget) + sep + tail
    return truncate_utf8(fixed, limit)


def _markdown_link(link: str) -> str:
    # A bare ")" or space would end the markdown link target early; percent-encode just those.
    return quote(link, safe=":/?#[]@!$&'*+,;=%~-._")


@dataclass(frozen=True)
class _Notice:
    """What a notice says, before it is laid out as plain text or as markdown."""

    kind: str
    title: str
    where: Sequence[str]
    level: str | None
    deadline: datetime | None
    link: str | None
    body: str
    tz: str

    @property
    def heading(self) -> str:
        return f"【{kind_label(self.kind)}】{self.title.strip()}"

    def facts(self) -> list[tuple[str, str]]:
        """The labelled facts (where, level, deadline), in the order people read them."""
        facts: list[tuple[str, str]] = []
        if self.where:
            facts.append(("地点", " / ".join(self.where)))
        if self.level is not None:
            facts.append(("层级", LEVEL_LABELS.get(self.level, self.level)))
        if self.deadline is not None:
            facts.append(("期限", format_deadline(self.deadline, self.tz)))
        return facts


def _text(notice: _Notice, limit: int = TEXT_LIMIT_BYTES) -> str:
    """Plain text of a notice, within ``limit`` UTF-8 bytes."""
    lines = [notice.heading, *(f"{label}：{value}" for label, value in notice.facts())]
    tail = f"详情：{notice.link}" if notice.link else ""
    return _fit("\n".join(lines), notice.body.strip(), tail, limit, "\n")


def _markdown(notice: _Notice, limit: int = MARKDOWN_LIMIT_BYTES) -> str:
    """Markdown of a notice, within ``limit`` UTF-8 bytes.

    Only the subset both robots render: a heading, bold labels, a link. No lists or tables (WeCom
    does not render them), and paragraphs separated by blank lines because DingTalk folds single
    newlines.
    """
    lines = [f"### {notice.heading}", *(f"**{label}**：{value}" for label, value in notice.facts())]
    tail = f"[查看详情]({_markdown_link(notice.link)})" if notice.link else ""
    return _fit("\n\n".join(lines), notice.body.strip(), tail, limit, "\n\n")


def render(
    *,
    idempotency_key: str,
    kind: str,
    title: str,
    where: Sequence[str] = (),
    level: str | None = None,
    deadline: datetime | None = None,
    link: str | None = None,
    body: str = "",
    mentions_mobiles: Sequence[str] = (),
    created_at: datetime,
    tz: str = DISPLAY_TZ,
) -> OutboundMessage:
    """Render an issue notice (the fields of ``domain.models.Notice``, with unit names resolved).

    ``where`` lists unit names from the lowest up (e.g. village, township); ``level`` is a level
    value (``village``/``township``/``county``); ``deadline`` any aware datetime (shown in Beijing
    time); ``body`` the notice's own free text, which gives way first when the limits bite.
    """
    notice = _Notice(kind, title, list(where), level, deadline, link, body, tz)
    return OutboundMessage(
        idempotency_key=idempotency_key,
        kind=kind,
        title=notice.heading,
        text=_text(notice),
        markdown=_markdown(notice),
        link=link,
        mentions_mobiles=list(mentions_mobiles),
        created_at=created_at,
    )


def notice_idempotency_key(workflow_id: str, seq: int) -> str:
    """The receivers' dedupe key of a notice: workflow id + event sequence (DESIGN)."""
    return f"{workflow_id}:{seq}"

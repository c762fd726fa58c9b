"""Outbound channels against real local servers (HTTP on asyncio, SMTP on aiosmtpd).

Every expectation is recomputed here from the documented algorithm or read back from what the
server received, never taken from the module under test.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote_plus, urlsplit

import httpx
import pytest

from activities.channels import (
    DeliveryResult,
    OutboundMessage,
    PermanentDeliveryError,
    Target,
    TransientDeliveryError,
    deliver,
    render,
    senders,
)
from activities.channels.base import truncate_utf8
from activities.channels.dingtalk import DingTalkSender
from activities.channels.email import EmailSender
from activities.channels.webhook import WebhookSender, verify_webhook
from activities.channels.wecom import WeComSender
from tests.activities.conftest import FakeClock, SMTPServer, TinyHTTPServer, free_port

DEADLINE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # 18:00 in Beijing
LINK = "https://linkage.example.cn/issues/ISS-1"
SECRET = "whsec-0123456789"


def notice(
    key: str = "issue-ISS-1:7",
    body: str = "路灯已坏三天，夜间出行不便。",
    mentions: tuple[str, ...] = (),
) -> OutboundMessage:
    return render(
        idempotency_key=key,
        kind="warning",
        title="丰收村村道路灯损坏",
        where=["丰收村委会", "青铜关镇"],
        level="village",
        deadline=DEADLINE,
        link=LINK,
        body=body,
        mentions_mobiles=list(mentions),
        created_at=datetime(2026, 11, 20, 1, 0, tzinfo=UTC),
    )


def raw_message(text: str, markdown: str, mentions: list[str] | None = None) -> OutboundMessage:
    return OutboundMessage(
        idempotency_key="k-raw",
        kind="warning",
        title="标题",
        text=text,
        markdown=markdown,
        link=None,
        mentions_mobiles=mentions or [],
        created_at=datetime(2026, 11, 20, tzinfo=UTC),
    )


# ---- rendering ----------------------------------------------------------------------------------


def test_render_says_what_where_level_deadline_and_link_in_chinese() -> None:
    msg = notice()
    for part in (msg.text, msg.markdown):
        assert "丰收村村道路灯损坏" in part
        assert "丰收村委会 / 青铜关镇" in part
        assert "村级" in part
        assert "2026-11-25 18:00" in part  # 10:00 UTC shown in Asia/Shanghai
        assert "路灯已坏三天" in part
    assert f"详情：{LINK}" in msg.text
    assert f"[查看详情]({LINK})" in msg.markdown
    assert msg.text.startswith("【临期预警】丰收村村道路灯损坏")
    assert msg.markdown.startswith("### 【临期预警】")
    assert msg.link == LINK and msg.idempotency_key == "issue-ISS-1:7"


@pytest.mark.parametrize(("level", "label"), [("township", "乡镇级"), ("county", "县级")])
def test_render_level_labels(level: str, label: str) -> None:
    msg = render(
        idempotency_key="k",
        kind="overdue",
        title="t",
        level=level,
        deadline=datetime(2026, 12, 31, 16, 30, tzinfo=UTC),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert f"层级：{label}" in msg.text
    assert "期限：2027-01-01 00:30" in msg.text  # crosses midnight and the year in Beijing


def test_render_keeps_within_wecom_limits_and_keeps_the_link() -> None:
    msg = notice(body="群众反映" * 2000)  # 24,000 bytes of body
    assert len(msg.text.encode("utf-8")) <= 2048
    assert len(msg.markdown.encode("utf-8")) <= 4096
    # Within a few bytes of the limit: the body was cut, not dropped.
    assert len(msg.text.encode("utf-8")) > 2048 - 3
    assert len(msg.markdown.encode("utf-8")) > 4096 - 3
    assert msg.text.endswith(f"详情：{LINK}")
    assert msg.markdown.endswith(f"[查看详情]({LINK})")
    assert "期限：2026-11-25 18:00" in msg.text
    assert "…" in msg.text


def test_truncate_utf8_cuts_on_character_boundaries() -> None:
    text = "a县乡村🙂b" * 3
    for limit in range(0, len(text.encode("utf-8")) + 2):
        cut = truncate_utf8(text, limit)
        encoded = cut.encode("utf-8")  # would raise on a lone surrogate; str is always whole chars
        assert len(encoded) <= limit
        if cut != text:
            assert text.startswith(cut.removesuffix("…"))
            if limit >= 3:
                assert cut.endswith("…")
    assert truncate_utf8(text, 10_000) == text


# ---- generic webhook ----------------------------------------------------------------------------


async def test_webhook_signature_verifies_on_what_the_server_received(
    http: httpx.AsyncClient, http_server: TinyHTTPServer, clock: FakeClock
) -> None:
    sender = WebhookSender(http, clock=clock)
    result = await sender.send(
        notice(), Target("webhook", {"url": http_server.url + "/hook"}, SECRET)
    )
    assert isinstance(result, DeliveryResult) and result.status_code == 200

    [req] = http_server.requests
    assert req.method == "POST" and req.target == "/hook"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["idempotency-key"] == "issue-ISS-1:7"
    ts = req.headers["x-linkage-timestamp"]
    assert ts == str(int(clock.now.timestamp()))
    sig = req.headers["x-linkage-signature"]
    # Recompute independently: sha256=hex(HMAC-SHA256(secret, ts + "." + raw body)).
    expected = hmac.new(SECRET.encode(), ts.encode() + b"." + req.body, hashlib.sha256).hexdigest()
    assert sig == "sha256=" + expected

    payload = json.loads(req.body)
    assert payload["idempotency_key"] == "issue-ISS-1:7"
    assert payload["title"] == "【临期预警】丰收村村道路灯损坏"
    assert "2026-11-25 18:00" in payload["text"]
    assert payload["link"] == LINK

    now = clock.now
    assert verify_webhook(SECRET, ts, req.body, sig, now)
    assert verify_webhook(SECRET, int(ts), req.body, sig, now.timestamp() + 299)
    tampered = req.body.replace("路灯".encode(), "水管".encode())
    assert tampered != req.body
    assert not verify_webhook(SECRET, ts, tampered, sig, now)
    assert not verify_webhook("other-secret", ts, req.body, sig, now)
    assert not verify_webhook(SECRET, str(int(ts) + 1), req.body, sig, now)  # ts is under the MAC
    assert not verify_webhook(SECRET, ts, req.body, sig, now + timedelta(seconds=301))  # stale
    assert not verify_webhook(SECRET, ts, req.body, sig, now - timedelta(seconds=301))  # future
    assert not verify_webhook(SECRET, ts, req.body, expected, now)  # prefix required
    assert not verify_webhook(SECRET, "12ab", req.body, sig, now)
    assert not verify_webhook(SECRET, ts, req.body, "sha256=✗", now)


async def test_webhook_retries_carry_the_same_key_and_body(
    http: httpx.AsyncClient, http_server: TinyHTTPServer, clock: FakeClock
) -> None:
    sender = WebhookSender(http, clock=clock)
    target = Target("webhook", {"url": http_server.url}, SECRET)
    await sender.send(notice(), target)
    clock.advance(90)
    await sender.send(notice(), target)
    await sender.send(notice(key="issue-ISS-1:8"), target)

    first, second, other = http_server.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == "issue-ISS-1:7"
    assert other.headers["idempotency-key"] == "issue-ISS-1:8"
    assert first.body == second.body  # receivers can dedupe on content too
    assert (
        int(second.headers["x-linkage-timestamp"]) == int(first.headers["x-linkage-timestamp"]) + 90
    )
    assert first.headers["x-linkage-signature"] != second.headers["x-linkage-signature"]
    for req in (first, second, other):
        assert verify_webhook(
            SECRET,
            req.headers["x-linkage-timestamp"],
            req.body,
            req.headers["x-linkage-signature"],
            clock.now,
        )


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, TransientDeliveryError),
        (503, TransientDeliveryError),
        (429, TransientDeliveryError),
        (408, TransientDeliveryError),
        (400, PermanentDeliveryError),
        (401, PermanentDeliveryError),
        (404, PermanentDeliveryError),
        (410, PermanentDeliveryError),
    ],
)
async def test_webhook_status_mapping(
    http: httpx.AsyncClient,
    http_server: TinyHTTPServer,
    status: int,
    error: type[Exception],
) -> None:
    http_server.reply(status, "nope", Retry_After="7")
    with pytest.raises(error) as info:
        await WebhookSender(http).send(
            notice(), Target("webhook", {"url": http_server.url}, SECRET)
        )
    exc = info.value
    assert isinstance(exc, TransientDeliveryError | PermanentDeliveryError)
    assert exc.status_code == status
    assert "nope" in exc.detail
    if status == 429:
        assert isinstance(exc, TransientDeliveryError) and exc.retry_after == 7.0


@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_webhook_2xx_is_delivered(
    http: httpx.AsyncClient, http_server: TinyHTTPServer, status: int
) -> None:
    http_server.reply(status)
    result = await WebhookSender(http).send(
        notice(), Target("webhook", {"url": http_server.url}, SECRET)
    )
    assert result.status_code == status


async def test_webhook_network_failures_are_transient(
    http: httpx.AsyncClient, http_server: TinyHTTPServer
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(TransientDeliveryError) as refused:
        await WebhookSender(http).send(notice(), Target("webhook", {"url": closed}, SECRET))
    assert refused.value.status_code is None

    http_server.hang()
    with pytest.raises(TransientDeliveryError, match="timeout"):
        await WebhookSender(http).send(
            notice(), Target("webhook", {"url": http_server.url, "timeout": 0.3}, SECRET)
        )


async def test_webhook_bad_configuration_is_permanent_and_sends_nothing(
    http: httpx.AsyncClient, http_server: TinyHTTPServer
) -> None:
    sender = WebhookSender(http)
    with pytest.raises(PermanentDeliveryError, match="secret"):
        await sender.send(notice(), Target("webhook", {"url": http_server.url}, None))
    with pytest.raises(PermanentDeliveryError, match="url"):
        await sender.send(notice(), Target("webhook", {}, SECRET))
    with pytest.raises(PermanentDeliveryError):
        await sender.send(notice(), Target("webhook", {"url": "ftp://127.0.0.1/x"}, SECRET))
    assert http_server.requests == []


# ---- DingTalk -----------------------------------------------------------------------------------


async def test_dingtalk_signs_the_url_as_documented_and_sends_markdown(
    http: httpx.AsyncClient, http_server: TinyHTTPServer, clock: FakeClock
) -> None:
    secret = "SEC0123456789abcdef+/="
    url = http_server.url + "/robot/send?access_token=TOKEN123"
    msg = notice(mentions=("13800000000", "13900000001"))
    result = await DingTalkSender(http, clock=clock).send(
        msg, Target("dingtalk", {"url": url}, secret)
    )
    assert result.status_code == 200

    [req] = http_server.requests
    path, _, raw_query = req.target.partition("?")
    assert path == "/robot/send"
    raw = dict(pair.split("=", 1) for pair in raw_query.split("&"))
    query = {k: v[0] for k, v in parse_qs(raw_query).items()}
    assert query["access_token"] == "TOKEN123"
    assert query["timestamp"] == str(int(clock.now.timestamp() * 1000))  # milliseconds
    # DingTalk's documented algorithm, recomputed from what arrived:
    string_to_sign = f"{query['timestamp']}\n{secret}"
    digest = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).digest()
    b64 = base64.b64encode(digest).decode()
    assert query["sign"] == b64  # decoded once, it is the base64
    assert raw["sign"] == quote_plus(b64)  # and on the wire it was URL-quoted exactly once

    body = json.loads(req.body)
    assert req.headers["content-type"].startswith("application/json")
    assert set(body) == {"msgtype", "markdown", "at"}
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "【临期预警】丰收村村道路灯损坏"
    assert "2026-11-25 18:00" in body["markdown"]["text"]
    assert body["at"] == {"atMobiles": ["13800000000", "13900000001"], "isAtAll": False}
    for mobile in body["at"]["atMobiles"]:
        assert f"@{mobile}" in body["markdown"]["text"]


async def test_dingtalk_replaces_a_stale_pasted_signature_and_skips_signing_without_secret(
    http: httpx.AsyncClient, http_server: TinyHTTPServer, clock: FakeClock
) -> None:
    sender = DingTalkSender(http, clock=clock)
    stale = http_server.url + "/robot/send?access_token=T&timestamp=1&sign=old"
    await sender.send(notice(), Target("dingtalk", {"url": stale}, "s"))
    await sender.send(
        notice(), Target("dingtalk", {"url": http_server.url + "/robot/send?access_token=T"})
    )
    signed, unsigned = (parse_qs(urlsplit(r.target).query) for r in http_server.requests)
    assert signed["timestamp"] == [str(int(clock.now.timestamp() * 1000))]
    assert len(signed["sign"]) == 1 and signed["sign"] != ["old"]
    assert unsigned == {"access_token": ["T"]}


@pytest.mark.parametrize(
    ("status", "reply", "error", "code_in_detail"),
    [
        (200, '{"errcode":310000,"errmsg":"sign not match"}', PermanentDeliveryError, "310000"),
        (200, '{"errcode":300001,"errmsg":"token is not exist"}', PermanentDeliveryError, "300001"),
        (200, '{"errcode":130101,"errmsg":"send too fast"}', TransientDeliveryError, "130101"),
        (200, '{"errcode":-1,"errmsg":"busy"}', TransientDeliveryError, "-1"),
        (200, "<html>gateway</html>", TransientDeliveryError, "not JSON"),
        (502, "bad gateway", TransientDeliveryError, "bad gateway"),
        (404, "not found", PermanentDeliveryError, "not found"),
    ],
)
async def test_dingtalk_errcode_and_status(
    http: httpx.AsyncClient,
    http_server: TinyHTTPServer,
    status: int,
    reply: str,
    error: type[Exception],
    code_in_detail: str,
) -> None:
    http_server.reply(status, reply)
    with pytest.raises(error, match=code_in_detail):
        await DingTalkSender(http).send(
            notice(),
            Target("dingtalk", {"url": http_server.url + "/robot/send?access_token=T"}, "s"),
        )


# ---- WeCom --------------------------------------------------------------------------------------


async def test_wecom_markdown_body_and_key_from_secret(
    http: httpx.AsyncClient, http_server: TinyHTTPServer
) -> None:
    msg = notice()
    target = Target("wecom", {"url": http_server.url + "/cgi-bin/webhook/send"}, "KEY-1/2")
    result = await WeComSender(http).send(msg, target)
    assert result.status_code == 200

    [req] = http_server.requests
    assert parse_qs(urlsplit(req.target).query) == {"key": ["KEY-1/2"]}
    body = json.loads(req.body)
    assert body == {"msgtype": "markdown", "markdown": {"content": msg.markdown}}
    assert "2026-11-25 18:00" in body["markdown"]["content"]


async def test_wecom_mentions_by_mobile_go_as_text(
    http: httpx.AsyncClient, http_server: TinyHTTPServer
) -> None:
    msg = notice(mentions=("13800000000",))
    url = http_server.url + "/cgi-bin/webhook/send?key=K"
    await WeComSender(http).send(msg, Target("wecom", {"url": url}, None))
    [req] = http_server.requests
    assert parse_qs(urlsplit(req.target).query) == {"key": ["K"]}
    assert json.loads(req.body) == {
        "msgtype": "text",
        "text": {"content": msg.text, "mentioned_mobile_list": ["13800000000"]},
    }


async def test_wecom_bodies_respect_byte_limits(
    http: httpx.AsyncClient, http_server: TinyHTTPServer
) -> None:
    # Oversized on purpose (built by hand, not by render): the sender must still cut them.
    big = raw_message(text="乡" * 1000, markdown="村" * 2000)  # 3000 and 6000 bytes
    url = http_server.url + "/send?key=K"
    sender = WeComSender(http)
    await sender.send(big, Target("wecom", {"url": url, "msgtype": "text"}))
    await sender.send(big, Target("wecom", {"url": url, "msgtype": "markdown"}))
    text_req, md_req = http_server.requests
    text = json.loads(text_req.body.decode("utf-8"))["text"]["content"]
    markdown = json.loads(md_req.body.decode("utf-8"))["markdown"]["content"]
    assert 2048 - 3 < len(text.encode("utf-8")) <= 2048
    assert 4096 - 3 < len(markdown.encode("utf-8")) <= 4096
    assert set(text.removesuffix("…")) == {"乡"}
    assert set(markdown.removesuffix("…")) == {"村"}

    small = raw_message(text="短消息", markdown="**短**")
    await sender.send(small, Target("wecom", {"url": url, "msgtype": "markdown"}))
    assert json.loads(http_server.requests[-1].body)["markdown"]["content"] == "**短**"


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ('{"errcode":45009,"errmsg":"api freq out of limit"}', TransientDeliveryError),
        ('{"errcode":93000,"errmsg":"invalid webhook url"}', PermanentDeliveryError),
        ('{"errcode":40008,"errmsg":"invalid message type"}', PermanentDeliveryError),
    ],
)
async def test_wecom_errcodes(
    http: httpx.AsyncClient, http_server: TinyHTTPServer, reply: str, error: type[Exception]
) -> None:
    http_server.reply_json(200, reply)
    with pytest.raises(error):
        await WeComSender(http).send(
            notice(), Target("wecom", {"url": http_server.url + "/?key=K"})
        )


async def test_wecom_without_key_is_permanent(
    http: httpx.AsyncClient, http_server: TinyHTTPServer
) -> None:
    with pytest.raises(PermanentDeliveryError, match="key"):
        await WeComSender(http).send(notice(), Target("wecom", {"url": http_server.url + "/send"}))
    assert http_server.requests == []


# ---- email --------------------------------------------------------------------------------------


def email_target(server: SMTPServer, **extra: object) -> Target:
    config: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "from": "Linkage 通知 <notify@linkage.example.cn>",
        "to": ["clerk@village.example.cn", "leader@village.example.cn"],
        "timeout": 5,
    }
    config.update(extra)
    return Target("email", config, None)


async def test_email_is_received_with_chinese_subject_body_and_stable_message_id(
    smtp_server: SMTPServer, clock: FakeClock
) -> None:
    sender = EmailSender(clock=clock)
    msg = notice()
    result = await sender.send(msg, email_target(smtp_server))
    assert result.status_code == 250
    await sender.send(msg, email_target(smtp_server))  # a retry of the same notice
    await sender.send(notice(key="issue-ISS-1:8"), email_target(smtp_server))

    first, retry, other = smtp_server.handler.envelopes
    assert first.mail_from == "notify@linkage.example.cn"
    assert first.rcpt_tos == ["clerk@village.example.cn", "leader@village.example.cn"]
    raw: bytes = first.original_content
    assert raw.isascii()  # headers RFC 2047-encoded, bodies base64: safe through any relay
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "【临期预警】丰收村村道路灯损坏"
    assert parsed["X-Linkage-Idempotency-Key"] == "issue-ISS-1:7"

    key_hash = hashlib.sha256(b"issue-ISS-1:7").hexdigest()
    message_id = parsed["Message-ID"]
    assert message_id == f"<linkage.{key_hash[:32]}@linkage.example.cn>"  # unfolded, exact
    retry_id = email.message_from_bytes(retry.original_content, policy=email.policy.default)[
        "Message-ID"
    ]
    other_id = email.message_from_bytes(other.original_content, policy=email.policy.default)[
        "Message-ID"
    ]
    assert retry_id == message_id
    assert other_id != message_id

    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    assert plain is not None and html_part is not None
    assert plain.get_content_charset() == "utf-8"
    plain_text = plain.get_content()
    assert "丰收村委会 / 青铜关镇" in plain_text
    assert "期限：2026-11-25 18:00" in plain_text
    html_text = html_part.get_content()
    assert f'<a href="{LINK}">查看详情</a>' in html_text
    assert "路灯已坏三天" in html_text
    assert parsed["Date"].datetime == clock.now.replace(microsecond=0)


async def test_email_authenticates_with_the_secret(smtp_server: SMTPServer) -> None:
    target = email_target(smtp_server, username="clerk")
    target.secret = "right-password"
    await EmailSender().send(notice(), target)
    assert smtp_server.handler.logins == [(b"clerk", b"right-password")]
    assert len(smtp_server.handler.envelopes) == 1

    target.secret = "wrong-password"
    with pytest.raises(PermanentDeliveryError) as info:
        await EmailSender().send(notice(), target)
    assert info.value.status_code == 535
    assert len(smtp_server.handler.envelopes) == 1


@pytest.mark.parametrize(
    ("reply", "error", "code"),
    [
        ("550 5.1.1 no such user", PermanentDeliveryError, 550),
        ("451 4.3.0 try again later", TransientDeliveryError, 451),
    ],
)
async def test_email_refused_recipients(
    smtp_server: SMTPServer, reply: str, error: type[Exception], code: int
) -> None:
    smtp_server.handler.refuse_rcpt = {"nobody@village.example.cn": reply}
    with pytest.raises(error) as info:
        await EmailSender().send(
            notice(), email_target(smtp_server, to="nobody@village.example.cn")
        )
    assert isinstance(info.value, PermanentDeliveryError | TransientDeliveryError)
    assert info.value.status_code == code
    assert smtp_server.handler.envelopes == []


async def test_email_partial_refusal(smtp_server: SMTPServer) -> None:
    target = email_target(smtp_server, to=["ok@village.example.cn", "gone@village.example.cn"])
    smtp_server.handler.refuse_rcpt = {"gone@village.example.cn": "550 5.1.1 no such user"}
    result = await EmailSender().send(notice(), target)  # delivered to one, hard refusal recorded
    assert result.status_code == 250 and "gone@village.example.cn" in result.detail

    smtp_server.handler.refuse_rcpt = {"gone@village.example.cn": "452 4.2.2 mailbox full"}
    with pytest.raises(TransientDeliveryError, match=r"gone@village\.example\.cn"):
        await EmailSender().send(notice(), target)
    assert [e.rcpt_tos for e in smtp_server.handler.envelopes] == [["ok@village.example.cn"]] * 2


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("554 5.7.1 rejected as spam", PermanentDeliveryError),
        ("421 4.3.2 shutting down", TransientDeliveryError),
    ],
)
async def test_email_data_refused(
    smtp_server: SMTPServer, reply: str, error: type[Exception]
) -> None:
    smtp_server.handler.data_reply = reply
    with pytest.raises(error):
        await EmailSender().send(notice(), email_target(smtp_server))


async def test_email_connection_refused_is_transient() -> None:
    target = Target(
        "email",
        {"host": "127.0.0.1", "port": free_port(), "from": "a@b.cn", "to": "c@d.cn", "timeout": 2},
    )
    with pytest.raises(TransientDeliveryError):
        await EmailSender().send(notice(), target)


async def test_email_bad_configuration_is_permanent() -> None:
    with pytest.raises(PermanentDeliveryError, match="host"):
        await EmailSender().send(notice(), Target("email", {"from": "a@b.cn", "to": "c@d.cn"}))
    with pytest.raises(PermanentDeliveryError, match="to"):
        await EmailSender().send(
            notice(), Target("email", {"host": "h", "from": "a@b.cn", "to": "nobody"})
        )
    with pytest.raises(PermanentDeliveryError, match="password"):
        await EmailSender().send(
            notice(),
            Target("email", {"host": "h", "from": "a@b.cn", "to": "c@d.cn", "username": "u"}),
        )


# ---- registry -----------------------------------------------------------------------------------


async def test_registry_dispatches_by_channel(
    http: httpx.AsyncClient, http_server: TinyHTTPServer, clock: FakeClock
) -> None:
    registry = senders(http, clock=clock)
    assert set(registry) == {"webhook", "dingtalk", "wecom", "email"}
    assert all(name == plugin.channel for name, plugin in registry.items())

    await deliver(registry, notice(), Target("wecom", {"url": http_server.url + "/?key=K"}))
    await deliver(registry, notice(), Target("webhook", {"url": http_server.url + "/w"}, SECRET))
    wecom_req, webhook_req = http_server.requests
    assert json.loads(wecom_req.body)["msgtype"] == "markdown"
    assert webhook_req.target == "/w" and "x-linkage-signature" in webhook_req.headers

    with pytest.raises(PermanentDeliveryError, match="sms"):
        await deliver(registry, notice(), Target("sms", {}))

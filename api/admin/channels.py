"""``/api/v1/admin/channels``: where a unit's or a department's notices go besides the inbox
(which always works): a signed webhook, a DingTalk or WeCom group robot, email. Secrets (HMAC
keys, robot tokens and keys, SMTP passwords) are written, never read back; a test send goes
through the same sender the dispatcher uses and answers with what the receiver said.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from activities.channels import DeliveryError, PermanentDeliveryError, deliver, render, senders
from activities.channels import Target as SendTarget
from api.admin.scope import (
    AdminDep,
    audit,
    department_in_scope,
    department_scope,
    missing,
    unit_in_scope,
)
from api.deps import API_PREFIX, Principal, SessionDep, in_thread
from api.problems import forbidden, invalid, responses
from store.tables import ChannelTarget, Department, Unit

router = APIRouter(prefix=f"{API_PREFIX}/admin/channels", tags=["admin"])

DINGTALK_URL = "https://oapi.dingtalk.com/robot/send"
# Query parameters that are credentials: masked wherever a URL is shown or audited.
URL_SECRETS = ("access_token", "key")
TEST_TIMEOUT = 10.0

OwnerKind = Literal["unit", "department"]
ChannelName = Literal["webhook", "dingtalk", "wecom", "email"]


class ChannelSet(BaseModel):
    """One channel of one unit or department; fields by channel (others are ignored)."""

    model_config = ConfigDict(extra="forbid")

    owner_kind: OwnerKind
    owner_code: str = Field(min_length=1, max_length=64)
    channel: ChannelName
    url: str | None = Field(
        default=None, max_length=512, description="webhook 地址；机器人可改地址"
    )
    token: str | None = Field(default=None, max_length=256, description="钉钉机器人 access_token")
    key: str | None = Field(default=None, max_length=256, description="企业微信机器人 key")
    secret: str | None = Field(
        default=None,
        max_length=256,
        description="webhook 签名密钥、钉钉加签密钥或 SMTP 密码；只写不读，修改时不填则保留原值",
        json_schema_extra={"format": "password"},
    )
    to: list[str] | None = Field(default=None, max_length=50, description="邮件收件地址")
    smtp_host: str | None = Field(default=None, max_length=255)
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_from: str | None = Field(default=None, max_length=255)
    smtp_username: str | None = Field(default=None, max_length=255)
    starttls: bool = False
    enabled: bool = True


class ChannelOut(BaseModel):
    id: int
    owner_kind: str
    owner_code: str
    owner_name: str
    channel: str
    config: dict[str, Any] = Field(description="配置（地址中的 token、key 已隐去）")
    has_secret: bool
    enabled: bool


class ChannelList(BaseModel):
    data: list[ChannelOut]
    count: int


class TestResult(BaseModel):
    ok: bool
    status_code: int | None
    detail: str = Field(description="接收方的答复或失败原因")
    permanent: bool = Field(description="失败是否为配置问题（重试无用）")


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, "***" if k in URL_SECRETS else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*")))


def shown_config(config: dict[str, Any]) -> dict[str, Any]:
    return {k: mask_url(v) if k == "url" and isinstance(v, str) else v for k, v in config.items()}


def _http_url(url: str | None, field: str = "url") -> str:
    if not url or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise invalid(field, "须为 http(s) 网址")
    return url


def _with_query(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != name] + [(name, value)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def config_of(
    body: ChannelSet, existing: ChannelTarget | None
) -> tuple[dict[str, Any], str | None]:
    """The stored config and secret of a channel, each field checked (422 naming it). A secret
    left out keeps the one already stored: it cannot be read back to be sent again."""
    kept = existing.secret if existing is not None and existing.channel == body.channel else None
    secret = body.secret or kept
    if body.channel == "webhook":
        if not secret:
            raise invalid("secret", "webhook 须设置签名密钥（HMAC-SHA256）")
        return {"url": _http_url(body.url)}, secret
    if body.channel == "dingtalk":
        base = _http_url(body.url) if body.url else DINGTALK_URL
        old = (
            dict(existing.config) if existing is not None and existing.channel == "dingtalk" else {}
        )
        if body.token:
            return {"url": _with_query(base, "access_token", body.token)}, secret
        if "access_token" in dict(parse_qsl(urlsplit(base).query)) or old.get("url"):
            return {"url": base if body.url else old["url"]}, secret
        raise invalid("token", "须填钉钉机器人的 access_token")
    if body.channel == "wecom":
        key = body.key or kept
        if not key:
            raise invalid("key", "须填企业微信机器人的 key")
        return ({"url": _http_url(body.url)} if body.url else {}), key
    if not body.to or any("@" not in address for address in body.to):
        raise invalid("to", "须填至少一个邮件地址")
    if not body.smtp_host:
        raise invalid("smtp_host", "须填 SMTP 服务器")
    if not body.smtp_from or "@" not in body.smtp_from:
        raise invalid("smtp_from", "须填发件地址")
    config: dict[str, Any] = {"to": list(body.to), "host": body.smtp_host, "from": body.smtp_from}
    if body.smtp_port:
        config["port"] = body.smtp_port
    if body.smtp_username:
        config["username"] = body.smtp_username
        if not secret:
            raise invalid("secret", "填了 SMTP 用户名须同时填密码")
    if body.starttls:
        config["starttls"] = True
    return config, secret


def owner_scope(session: Session, admin: Principal, kind: str, code: str) -> tuple[str, str]:
    """(name, scope path) of a target's owner in the admin's subtree (422 unknown, 403 outside)."""
    if kind == "unit":
        unit = unit_in_scope(session, admin, code, "owner_code")
        return unit.name, unit.path
    department = department_in_scope(session, admin, code, "owner_code")
    return department.name, department_scope(session, department)


def channel_out(session: Session, row: ChannelTarget) -> ChannelOut:
    owner = (
        session.get(Unit, row.owner_code)
        if row.owner_kind == "unit"
        else session.get(Department, row.owner_code)
    )
    return ChannelOut(
        id=row.id or 0,
        owner_kind=row.owner_kind,
        owner_code=row.owner_code,
        owner_name=owner.name if owner else row.owner_code,
        channel=row.channel,
        config=shown_config(row.config),
        has_secret=bool(row.secret),
        enabled=row.enabled,
    )


def _public(row: ChannelTarget) -> dict[str, Any]:
    return {
        "channel": row.channel,
        "config": shown_config(row.config),
        "secret": row.secret,
        "enabled": row.enabled,
    }


def set_channel(session: Session, admin: Principal, body: ChannelSet) -> ChannelTarget:
    """Create or replace the owner's target of this channel (one per channel and owner)."""
    _, scope = owner_scope(session, admin, body.owner_kind, body.owner_code)
    existing = session.exec(
        select(ChannelTarget)
        .where(ChannelTarget.owner_kind == body.owner_kind)
        .where(ChannelTarget.owner_code == body.owner_code)
        .where(ChannelTarget.channel == body.channel)
        .order_by(col(ChannelTarget.id))
    ).first()
    config, secret = config_of(body, existing)
    before = _public(existing) if existing is not None else None
    row = existing or ChannelTarget(
        owner_kind=body.owner_kind, owner_code=body.owner_code, channel=body.channel
    )
    row.config, row.secret, row.enabled = config, secret, body.enabled
    session.add(row)
    session.flush()
    audit(
        session,
        admin,
        "channel.set",
        "channel",
        f"{body.owner_kind}:{body.owner_code}:{body.channel}",
        scope,
        before=before,
        after=_public(row),
    )
    session.commit()
    return row


def channel_in_scope(
    session: Session, admin: Principal, target_id: int
) -> tuple[ChannelTarget, str]:
    row = session.get(ChannelTarget, target_id)
    if row is None:
        raise missing("通知渠道")
    owner = (
        session.get(Unit, row.owner_code)
        if row.owner_kind == "unit"
        else session.get(Department, row.owner_code)
    )
    if isinstance(owner, Unit):
        scope = owner.path
    elif isinstance(owner, Department):
        scope = department_scope(session, owner)
    else:
        scope = ""
    if not admin.within(scope):
        raise forbidden("该通知渠道不在您的管辖范围内")
    return row, scope


def list_channels(
    session: Session, admin: Principal, kind: str | None, code: str | None
) -> list[ChannelTarget]:
    statement = select(ChannelTarget).order_by(col(ChannelTarget.id))
    if kind and code:
        owner_scope(session, admin, kind, code)
        statement = statement.where(ChannelTarget.owner_kind == kind)
        statement = statement.where(ChannelTarget.owner_code == code)
    rows = session.exec(statement).all()
    return [r for r in rows if _readable(session, admin, r)]


def _readable(session: Session, admin: Principal, row: ChannelTarget) -> bool:
    try:
        channel_in_scope(session, admin, row.id or 0)
    except Exception:
        return False
    return True


async def send_test(row: ChannelTarget, owner_name: str) -> TestResult:
    """One delivery attempt of a test message, through the dispatcher's own sender."""
    now = datetime.now(UTC)
    message = render(
        idempotency_key=f"test:{uuid.uuid4().hex}",
        kind="test",
        title="Linkage 通知渠道测试",
        where=[owner_name],
        body=f"这是一条测试消息，收到即说明{owner_name}的通知渠道配置正确。",
        created_at=now,
    )
    target = SendTarget(channel=row.channel, config=dict(row.config), secret=row.secret)
    async with httpx.AsyncClient(timeout=TEST_TIMEOUT, trust_env=False) as http:
        try:
            result = await deliver(senders(http), message, target)
        except DeliveryError as error:
            return TestResult(
                ok=False,
                status_code=error.status_code,
                detail=error.detail,
                permanent=isinstance(error, PermanentDeliveryError),
            )
    return TestResult(
        ok=True, status_code=result.status_code, detail=result.detail, permanent=False
    )


def record_test(
    session: Session, admin: Principal, row: ChannelTarget, scope: str, result: TestResult
) -> None:
    audit(
        session,
        admin,
        "channel.test",
        "channel",
        f"{row.owner_kind}:{row.owner_code}:{row.channel}",
        scope,
        after=result.model_dump(),
    )
    session.commit()


@router.get("", response_model=ChannelList, responses=responses(401, 403, 422))
def list_(
    admin: AdminDep,
    session: SessionDep,
    owner_kind: Annotated[OwnerKind | None, Query()] = None,
    owner_code: Annotated[str | None, Query(max_length=64)] = None,
) -> ChannelList:
    """本辖区单位和部门的通知渠道（站内信始终开启，不在此列；密钥不返回）。"""
    rows = list_channels(session, admin, owner_kind, owner_code)
    return ChannelList(data=[channel_out(session, r) for r in rows], count=len(rows))


@router.post("", response_model=ChannelOut, responses=responses(401, 403, 422))
def set_(body: ChannelSet, admin: AdminDep, session: SessionDep) -> ChannelOut:
    """设置单位或部门的一个通知渠道（同一渠道只保留一个，再设即修改）。"""
    return channel_out(session, set_channel(session, admin, body))


# A row id: what the databases' 64-bit integer keys hold, so a larger one is a 422, not an error.
TargetId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post("/{target_id}/test", response_model=TestResult, responses=responses(401, 403, 404))
async def test(target_id: TargetId, admin: AdminDep, session: SessionDep) -> TestResult:
    """发送一条测试消息，返回接收方的答复。"""
    row, scope = await in_thread(channel_in_scope, session, admin, target_id)
    owner = await in_thread(channel_out, session, row)
    result = await send_test(row, owner.owner_name)
    await in_thread(record_test, session, admin, row, scope, result)
    return result

"""Open reporting: ``POST /api/v1/public/issues``, an issue registered by anyone, no account.

It goes the way every registration goes (``api.registration``: the tree, the category,
update-with-start under the Idempotency-Key, the tracking code and PIN), on channel ``app``, with
the reporter's phone required: the handling unit calls back on it, and the throttle counts per
phone as well as per address. The phone is masked to everyone but the handling unit, as for every
issue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AnyHttpUrl, Field, StringConstraints

from api import registration
from api.deps import API_PREFIX, Principal, SessionDep, SettingsDep, TemporalDep, in_thread
from api.problems import responses
from api.public.throttle import Throttle, client_address, throttle_of
from api.routes.issues import IdempotencyKey
from api.schemas import Body, Code, IssueCreate, IssueCreated, Phone, ReporterIn
from domain.models import Channel, Role

router = APIRouter(prefix=f"{API_PREFIX}/public", tags=["public"])
ThrottleDep = Annotated[Throttle, Depends(throttle_of)]
TITLE_CHARS = 30  # a title made from the description's start, when the citizen gives none


class PublicIssueIn(Body):
    """群众自行反映诉求（无需账号）：村（社区）、类别、描述、地点、照片链接、手机号。"""

    village_code: Code = Field(description="所在村（社区）代码")
    category: Code = Field(description="事项类别代码或中文名称（GET /api/v1/public/places）")
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=5, max_length=2000)
    ] = Field(description="具体情况（至少5个字）")
    location: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    attachments: list[AnyHttpUrl] = Field(default_factory=list, max_length=9)
    phone: Phone = Field(description="联系电话：承办单位回访用，对其他人脱敏")
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] | None = None


def public_principal(phone: str) -> Principal:
    """Who registers an open report: a citizen without an issue yet, keyed by phone (an
    Idempotency-Key is then the phone's own: nobody else's retry can find the issue)."""
    return Principal(username=f"public:{phone}", role=Role.CITIZEN, name="群众")


def as_registration(body: PublicIssueIn) -> IssueCreate:
    title = body.title or body.description[:TITLE_CHARS]
    return IssueCreate(
        village_code=body.village_code,
        category=body.category,
        title=title,
        description=body.description,
        reporter=ReporterIn(name=body.name, phone=body.phone),
        location=body.location,
        attachments=body.attachments,
        channel=Channel.APP,
    )


@router.post("/issues", status_code=201, response_model=IssueCreated, responses=responses(422, 429))
async def report_issue(
    body: PublicIssueIn,
    request: Request,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    idempotency_key: IdempotencyKey = None,
) -> IssueCreated:
    """群众反映诉求（无需账号，按网络地址和手机号限流）：返回查询码和查询密码（只显示一次）。"""
    throttle.admit("issue", client_address(request), body.phone)
    prepared = await in_thread(
        registration.prepare_registration,
        session,
        public_principal(body.phone),
        as_registration(body),
        settings,
        idempotency_key,
    )
    created = await registration.register(temporal, settings, prepared)
    response.headers["Cache-Control"] = "no-store"  # the PIN is in it
    return created

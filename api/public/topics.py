"""Topics villagers propose for their village's next 村民议事会.

``POST /api/v1/public/topics`` (no account; throttled per address and per phone) stores a
proposal; ``GET /api/v1/topics?village=`` lists them for the village's staff and the units above
(the calendar's monthly council gathers those not yet taken up into its agenda). The proposer's
phone is shown to the village's own staff only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.deps import API_PREFIX, CurrentPrincipal, Principal, SessionDep, in_thread
from api.issue_detail import mask_phone
from api.problems import forbidden, invalid, responses
from api.public.reporting import ThrottleDep, router
from api.public.throttle import client_address
from api.routes.issues import IdempotencyKey
from api.schemas import Body, Code, Phone
from domain.models import UnitKind
from store.tables import TopicProposal, Unit

staff = APIRouter(prefix=f"{API_PREFIX}/topics", tags=["public"])


class TopicIn(Body):
    """提议议题：本村下次村民议事会议什么。"""

    village_code: Code
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)]
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    phone: Phone | None = Field(default=None, description="联系电话（可选），只对本村工作人员显示")


class TopicOut(BaseModel):
    id: int
    village_code: str
    title: str
    description: str
    phone: str | None
    proposed_at: datetime
    taken_up_by: str | None


def _out(row: TopicProposal, sees_phone: bool) -> TopicOut:
    assert row.id is not None
    return TopicOut(
        id=row.id,
        village_code=row.village_code,
        title=row.title,
        description=row.description,
        phone=row.phone if sees_phone else mask_phone(row.phone),
        proposed_at=row.proposed_at,
        taken_up_by=row.taken_up_by,
    )


def propose(session: Session, body: TopicIn, key: str | None) -> TopicProposal:
    unit = session.get(Unit, body.village_code)
    if unit is None or not unit.active or unit.kind != UnitKind.VILLAGE.value:
        raise invalid("village_code", "未知的村（社区）代码")
    # Keyed per village and phone: a phone sending its queue again writes nothing twice.
    scoped = f"{body.village_code}:{body.phone or ''}:{key}" if key else None
    if scoped is not None:
        found = session.exec(
            select(TopicProposal).where(TopicProposal.idempotency_key == scoped)
        ).first()
        if found is not None:
            return found
    row = TopicProposal(
        village_code=body.village_code,
        title=body.title,
        description=body.description,
        phone=body.phone,
        proposed_at=datetime.now(UTC),
        idempotency_key=scoped,
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # the same key, committed meanwhile by a concurrent retry
        session.rollback()
        return session.exec(
            select(TopicProposal).where(TopicProposal.idempotency_key == scoped)
        ).one()
    session.refresh(row)
    return row


@router.post("/topics", status_code=201, response_model=TopicOut, responses=responses(422, 429))
async def propose_topic(
    body: TopicIn,
    request: Request,
    response: Response,
    session: SessionDep,
    throttle: ThrottleDep,
    idempotency_key: IdempotencyKey = None,
) -> TopicOut:
    """提议村民议事会议题（无需账号，按网络地址和手机号限流）。"""
    throttle.admit("topic", client_address(request), body.phone)
    row = await in_thread(propose, session, body, idempotency_key)
    return _out(row, sees_phone=False)


def topics_of(session: Session, principal: Principal, village: str) -> list[TopicOut]:
    unit = session.get(Unit, village)
    if unit is None:
        raise invalid("village", "未知的村（社区）代码")
    if not principal.within(unit.path):
        raise forbidden(f"{unit.name}不在您的辖区内", field="village")
    rows = session.exec(
        select(TopicProposal)
        .where(TopicProposal.village_code == village)
        .order_by(col(TopicProposal.proposed_at).desc())
        .limit(200)
    ).all()
    own = principal.unit_code == village
    return [_out(r, sees_phone=own) for r in rows]


@staff.get("", response_model=list[TopicOut], responses=responses(401, 403, 422))
def list_topics(
    principal: CurrentPrincipal,
    session: SessionDep,
    village: Annotated[str, Query(max_length=64, description="村（社区）代码")],
) -> list[TopicOut]:
    """村民提议的议事议题（本村及上级单位工作人员）：手机号只对本村工作人员显示。"""
    return topics_of(session, principal, village)

"""Polls a villager takes part in from the phone, with the household code, no account.

``GET /api/v1/public/units/{code}/polls`` lists the village's open polls (topic, options,
deadline); ``POST /api/v1/public/deliberations/{id}/ballot`` enters one ballot. The household
code is the credential: the API turns it into the deliberation's keyed token (an unknown code or
one of another village is a 422 naming ``household``), and the poll's workflow takes one ballot
per household whoever enters it. Throttled per client address (codes are not to be guessed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path, Request
from pydantic import BaseModel
from sqlmodel import Session, col, select

from api import deliberations as service
from api.deliberation_schemas import BallotIn
from api.deps import Principal, SessionDep, SettingsDep, TemporalDep, in_thread
from api.problems import ProblemError, not_found, responses
from api.public.reporting import ThrottleDep, router
from api.public.throttle import client_address
from api.routes.issues import IdempotencyKey
from domain.deliberation.models import Ballot, Kind
from domain.models import Actor, Role
from store.deliberation_tables import Deliberation

Code = Annotated[str, Path(max_length=64)]
OPEN = "open"


class PollOut(BaseModel):
    id: str
    topic: str
    description: str
    options: list[str]
    deadline: datetime | None


class BallotTaken(BaseModel):
    id: str
    topic: str
    option: str
    accepted: bool = True


def open_polls(session: Session, village: str) -> list[PollOut]:
    rows = session.exec(
        select(Deliberation)
        .where(Deliberation.unit_code == village, Deliberation.kind == Kind.POLL.value)
        .where(Deliberation.status == OPEN)
        .order_by(col(Deliberation.opened_at).desc())
        .limit(20)
    ).all()
    return [
        PollOut(
            id=r.id,
            topic=r.topic,
            description=r.description,
            options=r.options,
            deadline=r.deadline,
        )
        for r in rows
    ]


@router.get("/units/{code}/polls", response_model=list[PollOut])
def polls(code: Code, session: SessionDep) -> list[PollOut]:
    """本村正在进行的民意调查（投票）。"""
    return open_polls(session, code)


def _poll(session: Session, deliberation_id: str) -> Deliberation:
    row = session.get(Deliberation, deliberation_id)
    if row is None or row.kind != Kind.POLL.value:
        raise not_found("没有这个民意调查")
    if row.status != OPEN:
        raise ProblemError(409, "该调查已结束投票", slug="rejected")
    return row


@router.post(
    "/deliberations/{deliberation_id}/ballot",
    response_model=BallotTaken,
    responses=responses(404, 409, 422, 429),
)
async def public_ballot(
    deliberation_id: Code,
    body: BallotIn,
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    idempotency_key: IdempotencyKey = None,
) -> BallotTaken:
    """凭户码投票（无需账号）：每户一票，不论从哪个渠道，只计一次；选票不与户关联公开。"""
    throttle.admit("ballot", client_address(request))
    row = await in_thread(_poll, session, deliberation_id)
    token = await in_thread(service.household_token, session, settings, row, body.household)
    villager = Actor(user="household", role=Role.CITIZEN, name="村民")
    ballot = Ballot(actor=villager, household=token, option=body.option)
    keyed = Principal(username=f"household:{token[:16]}", role=Role.CITIZEN)
    ballot.request_id = service.request_id(keyed, deliberation_id, "ballot", idempotency_key)
    await service.execute(temporal, deliberation_id, "ballot", ballot)
    return BallotTaken(id=row.id, topic=row.topic, option=body.option)

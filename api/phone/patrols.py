"""The patrol log (巡查日志) of grid workers and 片长: ``POST /api/v1/patrols``, ``GET
/api/v1/patrols?unit=``.

An entry is written by the phone, perhaps hours before the signal returns: ``recorded_at`` is the
phone's time, ``received_at`` the server's. Idempotent on the Idempotency-Key per user, so a
queue sent again after a lost answer writes each entry once. An entry about a grid (a grid
worker's own unit, or the grid named) counts for that grid's patrol duty as a check-in does
(``store.patrols``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.deps import (
    API_PREFIX,
    CurrentPrincipal,
    Principal,
    SessionDep,
    in_thread,
    unit_in_reach,
)
from api.inputs import Instant
from api.problems import created_or_found, forbidden, responses
from api.routes.issues import IdempotencyKey
from api.schemas import Body, Code
from domain.lifecycle.rules import STAFF_ROLES
from store.tables import PatrolLog, Unit

router = APIRouter(prefix=f"{API_PREFIX}/patrols", tags=["issues"])
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class PatrolIn(Body):
    """一条巡查记录：时间、地点、所见情况、由此登记的事项查询码。"""

    unit: Code | None = Field(default=None, description="巡查的村（社区）或网格；默认本人单位")
    started_at: Instant
    recorded_at: Instant | None = Field(default=None, description="手机记录的时间")
    place: Short = ""
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    issue_codes: list[Code] = Field(default_factory=list, max_length=50)


class PatrolOut(BaseModel):
    id: int
    username: str
    unit: str
    started_at: datetime
    recorded_at: datetime
    received_at: datetime
    place: str
    note: str
    issue_codes: list[str]


def _out(row: PatrolLog) -> PatrolOut:
    assert row.id is not None
    return PatrolOut(
        id=row.id,
        username=row.username,
        unit=row.unit_code,
        started_at=row.started_at,
        recorded_at=row.recorded_at,
        received_at=row.received_at,
        place=row.place,
        note=row.note,
        issue_codes=row.issue_codes.split(),
    )


def _unit_for(session: Session, principal: Principal, code: str | None) -> Unit:
    if principal.role not in STAFF_ROLES:
        raise forbidden("巡查日志由网格员、片长等工作人员填写")
    return unit_in_reach(session, principal, code)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def log_patrol(
    session: Session, principal: Principal, body: PatrolIn, key: str | None
) -> tuple[PatrolLog, bool]:
    """The entry, and whether it is new (False: a retry of one already written)."""
    unit = _unit_for(session, principal, body.unit)
    scoped = f"{principal.username}:{key}" if key else None
    query = select(PatrolLog).where(PatrolLog.idempotency_key == scoped)
    if scoped is not None and (found := session.exec(query).first()) is not None:
        return found, False
    now = datetime.now(UTC)
    row = PatrolLog(
        username=principal.username,
        unit_code=unit.code,
        started_at=_aware(body.started_at),
        recorded_at=_aware(body.recorded_at or body.started_at),
        received_at=now,
        place=body.place,
        note=body.note,
        issue_codes=" ".join(body.issue_codes),
        idempotency_key=scoped,
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # the same key, committed meanwhile by a concurrent retry
        session.rollback()
        return session.exec(query).one(), False
    session.refresh(row)
    return row, True


@router.post(
    "",
    status_code=201,
    response_model=PatrolOut,
    responses=created_or_found(PatrolOut, "同一 Idempotency-Key 已记：返回原记录", 401, 403, 422),
)
async def post_patrol(
    body: PatrolIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> PatrolOut:
    """记一条巡查日志（网格员、片长）；同一 Idempotency-Key 只记一次。"""
    row, new = await in_thread(log_patrol, session, principal, body, idempotency_key)
    if not new:
        response.status_code = 200
    return _out(row)


@router.get("", response_model=list[PatrolOut], responses=responses(401, 403, 422))
def list_patrols(
    principal: CurrentPrincipal,
    session: SessionDep,
    unit: Annotated[str | None, Query(max_length=64)] = None,
) -> list[PatrolOut]:
    """巡查日志（本单位及下辖）：最近 200 条。"""
    scope = _unit_for(session, principal, unit)
    rows = session.exec(
        select(PatrolLog)
        .join(Unit, col(Unit.code) == col(PatrolLog.unit_code))
        .where(col(Unit.path).startswith(scope.path))
        .order_by(col(PatrolLog.started_at).desc())
        .limit(200)
    ).all()
    return [_out(r) for r in rows]

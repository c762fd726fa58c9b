"""Duties on a calendar, the units' side: a village records that it published (村务公开), a 片长
checks in a patrol, staff read the duties' figures and the meetings' reports.

``POST /api/v1/duties/publications`` also tells a duty run still waiting or reminding for that
period (the ``fulfilled`` signal): it stops at once instead of at its next working-day look.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from datetime import UTC, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field, StringConstraints
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.service import RPCError

from activities.deadlines import build_calendar
from api.deps import (
    API_PREFIX,
    CurrentPrincipal,
    Principal,
    SessionDep,
    SettingsDep,
    TemporalDep,
    in_thread,
    unit_in_reach,
)
from api.duty_detail import DutyRunOut, run_detail
from api.duty_overview import DutyOverviewOut, overview
from api.duty_stats import DutyShareOut, PatrolCoverageOut, duty_shares, patrol_coverage
from api.inputs import Instant
from api.problems import created_or_found, forbidden, invalid, not_found, responses
from api.schemas import Body, Code
from domain.duties.models import DISCLOSURES, Fulfilment
from domain.lifecycle.rules import STAFF_ROLES
from domain.models import Role, UnitKind
from store.duty_tables import DisclosurePublication, DutyDocument, DutyRun, PatrolCheckin
from store.tables import Unit
from workers.schedules import paused_ids
from workflows.duty import SIGNAL_FULFILLED

router = APIRouter(prefix=f"{API_PREFIX}/duties", tags=["units"])
Period = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
UNIT_STAFF = frozenset({Role.CLERK, Role.LEADER})
SCHEDULES_TIMEOUT = 5.0  # seconds the duties page waits to learn which schedules are paused
log = logging.getLogger("linkage.api")


class PublicationIn(Body):
    unit: Code = Field(description="村（社区）代码")
    period: Period = Field(description="公开的期间：月度 2026-01，季度 2026-Q1")
    note: Text = ""


class PublicationOut(BaseModel):
    id: int
    unit: str
    period: str
    published_at: datetime


class CheckinIn(Body):
    grid: Code = Field(description="片区（网格）代码")
    started_at: Instant
    ended_at: Instant
    found: Text = Field(default="", description="巡查所见")
    issue_ids: list[Code] = Field(default_factory=list, max_length=50, description="由此登记的事项")


class CheckinOut(BaseModel):
    id: int
    grid: str
    day: str


class DutyStatsOut(BaseModel):
    unit: str
    duties: list[DutyShareOut]
    patrol_coverage: list[PatrolCoverageOut]


def _unit(session: Session, code: str, field: str, *kinds: UnitKind) -> Unit:
    unit = session.get(Unit, code)
    if unit is None or not unit.active or unit.kind not in {k.value for k in kinds}:
        raise invalid(field, "未知的单位代码，或单位类型不符")
    return unit


def _acts_for(principal: Principal, unit: Unit, *codes: str | None) -> None:
    staff = principal.role in UNIT_STAFF and principal.unit_code in {unit.code, *codes}
    if not (staff or (principal.role is Role.ADMIN and principal.within(unit.path))):
        raise forbidden(f"只有{unit.name}的工作人员可以办理", field="unit")


@router.post(
    "/publications",
    status_code=201,
    response_model=PublicationOut,
    responses=created_or_found(PublicationOut, "该期间已登记：返回原记录", 401, 403, 422),
)
async def publish(
    body: PublicationIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    temporal: TemporalDep,
    response: Response,
) -> PublicationOut:
    """村务公开：村（社区）登记已按期公开；同一期间再次登记返回原记录（200）。"""
    village = _unit(session, body.unit, "unit", UnitKind.VILLAGE)
    _acts_for(principal, village)
    row = session.exec(
        select(DisclosurePublication).where(
            DisclosurePublication.unit_code == village.code,
            DisclosurePublication.period == body.period,
        )
    ).first()
    if row is None:
        row = DisclosurePublication(
            unit_code=village.code,
            period=body.period,
            published_at=datetime.now(UTC),
            published_by=principal.username,
            note=body.note,
        )
        session.add(row)
        session.commit()
        session.refresh(row)
    else:
        response.status_code = 200
    assert row.id is not None
    waiting = session.exec(
        select(DutyRun.id).where(
            DutyRun.unit_code == village.code,
            DutyRun.period == body.period,
            col(DutyRun.kind).in_([k.value for k in DISCLOSURES]),
            col(DutyRun.status).in_(("waiting", "overdue")),
        )
    ).all()
    told = Fulfilment(at=row.published_at, by=principal.actor(), reference=str(row.id))
    for run in waiting:
        # A run that ended meanwhile cannot hear it; a live one also finds the row at its next look.
        with suppress(RPCError):
            await temporal.get_workflow_handle(run).signal(SIGNAL_FULFILLED, told)
    return PublicationOut(
        id=row.id, unit=row.unit_code, period=row.period, published_at=row.published_at
    )


@router.post(
    "/patrol-checkins",
    status_code=201,
    response_model=CheckinOut,
    responses=responses(401, 403, 422),
)
def check_in(
    body: CheckinIn, principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> CheckinOut:
    """片长巡查打卡：开始、结束、所见情况、由此登记的事项。"""
    grid = _unit(session, body.grid, "grid", UnitKind.GRID)
    _acts_for(principal, grid, grid.parent_code)
    if body.ended_at <= body.started_at:
        raise invalid("ended_at", "结束时间须晚于开始时间")
    day = body.started_at.astimezone(ZoneInfo(settings.timezone)).date()
    row = PatrolCheckin(
        grid_code=grid.code,
        village_code=grid.parent_code or grid.code,
        day=day,
        started_at=body.started_at,
        ended_at=body.ended_at,
        found=body.found,
        issue_ids=list(body.issue_ids),
        checked_in_by=principal.username,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    assert row.id is not None
    return CheckinOut(id=row.id, grid=grid.code, day=day.isoformat())


def _scope(principal: Principal, session: Session, unit: str | None) -> Unit:
    """The unit whose subtree staff read: the one asked for, within their own, else their own."""
    if principal.role not in STAFF_ROLES:
        raise forbidden("统计只对工作人员开放")
    return unit_in_reach(session, principal, unit)


ScopeQuery = Annotated[str | None, Query(max_length=64, description="单位代码，默认本单位")]


@router.get("/stats", response_model=DutyStatsOut, responses=responses(401, 403, 422))
def stats(
    principal: CurrentPrincipal,
    session: SessionDep,
    unit: ScopeQuery = None,
    since: Annotated[Instant | None, Query(description="到期时间下限（含）")] = None,
    until: Annotated[Instant | None, Query(description="到期时间上限（不含）")] = None,
) -> DutyStatsOut:
    """各项职责按单位的按时率（议事会、代表会议、联席会议、村务公开、巡查），各村巡查覆盖率。"""
    target = _scope(principal, session, unit)
    return DutyStatsOut(
        unit=target.code,
        duties=duty_shares(session, target.path, since, until),
        patrol_coverage=patrol_coverage(session, target.path),
    )


@router.get("/overview", response_model=DutyOverviewOut, responses=responses(401, 403, 422))
async def duty_overview(
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    unit: ScopeQuery = None,
) -> DutyOverviewOut:
    """值班职责总览：各下级单位的按时率，各村本月、本季度村务公开，片区巡查覆盖，近期会议
    （日程已暂停的单位不计入近期会议）。"""
    target = await in_thread(_scope, principal, session, unit)
    paused = await paused_schedules(temporal)
    cal = build_calendar(settings)
    return await in_thread(overview, session, cal, target, datetime.now(UTC), paused)


async def paused_schedules(temporal: Client) -> frozenset[str]:
    """The duty schedules an operator has paused. Temporal unreachable: none known paused, so
    the page still shows (its meetings as the calendar has them); the log says why."""
    try:
        return await asyncio.wait_for(paused_ids(temporal), SCHEDULES_TIMEOUT)
    except (RPCError, TimeoutError) as exc:
        log.warning("duties: schedules not listed: %r", exc)
        return frozenset()


@router.get("/runs/{duty_id}", response_model=DutyRunOut, responses=responses(401, 404, 422))
def duty_run(
    duty_id: Annotated[str, Path(max_length=200)], principal: CurrentPrincipal, session: SessionDep
) -> DutyRunOut:
    """一次职责运行：是什么、期间与期限、状态、议程或报告（HTML、PDF）、全过程记录。"""
    run = session.get(DutyRun, duty_id)
    if run is None or not principal.within(run.unit_path):
        raise not_found("职责记录不存在或不在您的辖区内")
    return run_detail(session, run)


@router.get("/documents/{document_id}", responses=responses(401, 404, 422))
def document(
    document_id: Annotated[str, Path(max_length=200)],
    principal: CurrentPrincipal,
    session: SessionDep,
    format: Annotated[Literal["pdf", "html"], Query(description="pdf 或 html")] = "pdf",
) -> Response:
    """会议报告（PDF 或 HTML）：本单位、上级和下级单位的工作人员可读。"""
    doc = session.get(DutyDocument, document_id)
    unit = session.get(Unit, doc.unit_code) if doc else None
    readable = unit is not None and (
        principal.within(unit.path)
        or bool(principal.unit_path and principal.unit_path.startswith(unit.path))
    )
    if doc is None or not readable:
        raise not_found("报告不存在或不在您的辖区内")
    if format == "pdf":
        return Response(doc.pdf, media_type="application/pdf")
    return Response(doc.html, media_type="text/html; charset=utf-8")

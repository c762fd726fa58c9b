"""The 公示栏's routes: ``/`` (who goes where), ``/public/<code>`` (the board, no login), its
printable notice ``/public/<code>/notice.pdf``, and the JSON
``/api/v1/public/units/<code>/disclosures``. All read the same ``board.disclosure``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from api.deps import API_PREFIX, SessionDep, SettingsDep, in_thread
from api.disclosure import notice, page
from api.disclosure.board import disclosure
from api.disclosure.period import MONTH_PATTERN, Period, resolve_period
from api.disclosure.schemas import Disclosure, UnitRef
from api.inputs import Instant
from api.problems import responses
from api.statistics import figures
from domain.models import UnitKind
from settings import Settings
from store.tables import Unit

api = APIRouter(prefix=f"{API_PREFIX}/public", tags=["public"])
pages = APIRouter(include_in_schema=False)
UnitCode = Annotated[str, Path(max_length=64, description="单位代码（统计用区划代码）")]
# What the landing page lets people pick, and the words for it; grids sit below the boards.
CHOICE = {
    UnitKind.COUNTY.value: "县（区）",
    UnitKind.TOWNSHIP.value: "乡镇（街道）",
    UnitKind.VILLAGE.value: "村（社区）",
}


def requested_period(
    settings: SettingsDep,
    month: Annotated[
        str | None,
        Query(max_length=7, pattern=MONTH_PATTERN, description="公示月份 YYYY-MM（默认本月）"),
    ] = None,
    since: Annotated[Instant | None, Query(description="办结时间下限（含），与 until 同用")] = None,
    until: Annotated[Instant | None, Query(description="办结时间上限（不含）")] = None,
) -> Period:
    return resolve_period(month, since, until, settings.timezone)


PeriodDep = Annotated[Period, Depends(requested_period)]


def _read(session: Session, settings: Settings, code: str, period: Period) -> Disclosure:
    weights = figures.Weights(*settings.composite_weights)
    return disclosure(session, code, period, settings.timezone, weights)


@api.get("/units/{code}/disclosures", response_model=Disclosure, responses=responses(404, 422))
async def disclosures(
    code: UnitCode, period: PeriodDep, session: SessionDep, settings: SettingsDep
) -> Disclosure:
    """公示栏：本单位及下辖单位期内办结的事项（类别、经审核的标题或类别的中性表述、办结层级、
    是否按时、满意度）、议事决定及落实情况、本期和本季度的数字（办结层级占比、三率）。
    不含姓名、电话和群众原文。"""
    return await in_thread(_read, session, settings, code, period)


def _children(session: Session, code: str) -> list[Unit]:
    return list(
        session.exec(
            select(Unit)
            .where(
                col(Unit.parent_code) == code,
                col(Unit.active).is_(True),
                col(Unit.kind).in_(list(CHOICE)),
            )
            .order_by(col(Unit.code))
        ).all()
    )


def _refs(units: list[Unit]) -> list[UnitRef]:
    return [UnitRef(code=u.code, name=u.name) for u in units]


@pages.get("/public/{code}", response_class=HTMLResponse)
async def board_page(
    code: UnitCode, period: PeriodDep, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    d = await in_thread(_read, session, settings, code, period)
    children = _refs(await in_thread(_children, session, code))
    month = period.month or f"{period.since.astimezone(ZoneInfo(settings.timezone)):%Y-%m}"
    html = page.board(d, ZoneInfo(settings.timezone), month, children)
    return HTMLResponse(html, headers=page.HEADERS)


@pages.get("/public/{code}/notice.pdf")
async def notice_pdf(
    code: UnitCode, period: PeriodDep, session: SessionDep, settings: SettingsDep
) -> Response:
    d = await in_thread(_read, session, settings, code, period)
    zone = ZoneInfo(settings.timezone)
    pdf = await in_thread(notice.render, d, zone, datetime.now(zone))
    name = f"notice-{d.unit.code}-{period.since.astimezone(zone):%Y%m%d}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "no-cache"},
    )


def _landing(session: Session, code: str | None) -> Response:
    current = session.get(Unit, code) if code else None
    if current is not None and not current.active:
        current = None
    counties = session.exec(
        select(Unit).where(col(Unit.kind) == UnitKind.COUNTY.value, col(Unit.active).is_(True))
    ).all()
    if current is None and len(counties) == 1:
        current = counties[0]
    children = list(counties) if current is None else _children(session, current.code)
    if current is not None and not children:  # a village: its board is where the choice leads
        return RedirectResponse(f"/public/{current.code}", status_code=303)
    county = next((c.name for c in counties if current and current.path.startswith(c.path)), "")
    html = page.landing(
        county or (current.name if current else ""),
        UnitRef(code=current.code, name=current.name) if current else None,
        _refs(children),
        CHOICE.get(children[0].kind if children else "", "单位"),
        has_dashboard=True,
    )
    return HTMLResponse(html, headers=page.HEADERS)


@pages.get("/")
async def landing(
    session: SessionDep, unit: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    return await in_thread(_landing, session, unit)

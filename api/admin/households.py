"""``/api/v1/admin/households``: the household codes a village hands out for polls (one ballot per
household), and the printable sheet the village cuts into slips.

A code is random (Crockford base32 without look-alikes, read aloud without confusion) and says
nothing about the household; which family got which slip the village keeps on paper.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Table, TableStyle
from sqlalchemy import func
from sqlmodel import Session, col, select

from api.admin.scope import AdminDep, audit, unit_in_scope
from api.deps import API_PREFIX, Principal, SessionDep, in_thread
from api.disclosure.printing import BODY, SMALL, a4_pdf, paragraph, style
from api.problems import invalid, responses
from domain.models import UnitKind
from store.tables import Household, Unit

router = APIRouter(prefix=f"{API_PREFIX}/admin/households", tags=["admin"])

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8  # 40 bits: guessing a valid code of a village is hopeless
MAX_BATCH = 2000
SLIP_NOTE = "协商议事投票户码 · 每户一票 · 请妥善保管"
SHEET_NOTE = "沿虚线剪开，每户一张。户码不记录户主姓名：哪一户拿到哪一张，由村里自行登记。"


class HouseholdsAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    village: str = Field(min_length=12, max_length=12, examples=["611025001001"])
    count: int = Field(ge=1, le=MAX_BATCH, description="新增户数")


class HouseholdOut(BaseModel):
    number: int
    code: str
    active: bool


class HouseholdList(BaseModel):
    village: str
    village_name: str
    added: int = 0
    count: int
    data: list[HouseholdOut]


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def village_in_scope(session: Session, admin: Principal, code: str) -> Unit:
    unit = unit_in_scope(session, admin, code, "village")
    if unit.kind != UnitKind.VILLAGE:
        raise invalid("village", "须为村（社区）代码")
    return unit


def add_households(session: Session, admin: Principal, village: str, count: int) -> int:
    """Issue ``count`` more codes to a village, numbered after its last; returns how many."""
    unit = village_in_scope(session, admin, village)
    last = session.exec(
        select(func.max(Household.number)).where(Household.village_code == unit.code)
    ).one()
    now = datetime.now(UTC)
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(new_code())
    taken = set(session.exec(select(Household.code).where(col(Household.code).in_(codes))))
    codes -= taken  # a collision is astronomically rare; draw again rather than fail
    while len(codes) < count:
        code = new_code()
        if session.get(Household, code) is None:
            codes.add(code)
    for offset, code in enumerate(sorted(codes), start=1):
        session.add(
            Household(
                code=code, village_code=unit.code, number=(last or 0) + offset, created_at=now
            )
        )
    audit(
        session,
        admin,
        "household.add",
        "village",
        unit.code,
        unit.path,
        after={"count": count, "from": (last or 0) + 1, "to": (last or 0) + count},
    )
    session.commit()
    return count


def households_of(session: Session, admin: Principal, village: str) -> tuple[Unit, list[Household]]:
    unit = village_in_scope(session, admin, village)
    rows = session.exec(
        select(Household).where(Household.village_code == unit.code).order_by(col(Household.number))
    ).all()
    return unit, list(rows)


def sheet_html(unit: Unit, rows: list[Household]) -> str:
    """A printable A4 sheet of slips: the village, the household's line number and its code."""
    slips = "\n".join(
        f'<div class="slip"><div class="v">{escape(unit.name)}</div>'
        f'<div class="n">第 {h.number} 户</div><div class="c">{h.code}</div>'
        f'<div class="t">{SLIP_NOTE}</div></div>'
        for h in rows
        if h.active
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(unit.name)} 户码</title>
<style>
body {{ font-family: "WenQuanYi Micro Hei", "Microsoft YaHei", sans-serif; margin: 12mm; }}
h1 {{ font-size: 16pt; }}
.grid {{ display: grid; grid-template-columns: repeat(3, 1fr); gap: 4mm; }}
.slip {{ border: 1px dashed #555; padding: 3mm; break-inside: avoid; }}
.v {{ font-size: 9pt; }} .n {{ font-size: 10pt; }} .t {{ font-size: 7pt; color: #555; }}
.c {{ font: bold 18pt monospace; letter-spacing: 2px; margin: 2mm 0; }}
@media print {{ h1, p {{ display: none; }} body {{ margin: 8mm; }} }}
</style></head><body>
<h1>{escape(sheet_title(unit, rows))}</h1>
<p>{SHEET_NOTE}</p>
<div class="grid">
{slips}
</div></body></html>"""


def sheet_title(unit: Unit, rows: list[Household]) -> str:
    return f"{unit.name}（{unit.code}）投票户码，共 {len(rows)} 户"


# The code in a Latin monospace face, large: it is read aloud and typed on a phone.
_CODE = ParagraphStyle("household-code", fontName="Courier-Bold", fontSize=17, leading=22)


def sheet_pdf(unit: Unit, rows: list[Household]) -> bytes:
    """The same sheet as an A4 PDF: three slips a row, dashed lines to cut along."""
    slips = [
        [
            paragraph(unit.name, SMALL),
            paragraph(f"第 {h.number} 户"),
            paragraph(h.code, _CODE),
            paragraph(SLIP_NOTE, style(7, 9)),
        ]
        for h in rows
        if h.active
    ]
    grid: list[list[Any]] = [slips[i : i + 3] for i in range(0, len(slips), 3)]
    if grid:
        grid[-1] += [""] * (3 - len(grid[-1]))
    story: list[Flowable] = [
        paragraph(sheet_title(unit, rows), style(14, 20)),
        paragraph(SHEET_NOTE, BODY),
    ]
    if grid:
        table = Table(grid, colWidths=[60 * mm] * 3)
        # (3, 2): dashes of 3 points and gaps of 2, the line the village cuts along.
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.6, colors.grey, None, (3, 2)),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("TOPPADDING", (0, 0), (-1, -1), 3 * mm),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 3 * mm),
                ]
            )
        )
        story.append(table)
    return a4_pdf(story, title=sheet_title(unit, rows), author=unit.name, margin_mm=12)


@router.post("", status_code=201, response_model=HouseholdList, responses=responses(401, 403, 422))
def post(body: HouseholdsAdd, admin: AdminDep, session: SessionDep) -> HouseholdList:
    """为村（社区）新增户码（协商式民意调查按户投票，每户一票）。"""
    added = add_households(session, admin, body.village, body.count)
    unit, rows = households_of(session, admin, body.village)
    return HouseholdList(
        village=unit.code,
        village_name=unit.name,
        added=added,
        count=len(rows),
        data=[HouseholdOut(number=h.number, code=h.code, active=h.active) for h in rows],
    )


@router.get("", response_model=HouseholdList, responses=responses(401, 403, 422))
def list_(
    admin: AdminDep,
    session: SessionDep,
    village: Annotated[str, Query(min_length=12, max_length=12)],
) -> HouseholdList:
    """一个村（社区）的户码。"""
    unit, rows = households_of(session, admin, village)
    return HouseholdList(
        village=unit.code,
        village_name=unit.name,
        count=len(rows),
        data=[HouseholdOut(number=h.number, code=h.code, active=h.active) for h in rows],
    )


@router.get("/sheet", response_class=HTMLResponse, responses=responses(401, 403, 422))
def sheet(
    admin: AdminDep,
    session: SessionDep,
    village: Annotated[str, Query(min_length=12, max_length=12)],
) -> HTMLResponse:
    """可打印的户码单（A4，每户一张，沿虚线剪开发放）。"""
    unit, rows = households_of(session, admin, village)
    return HTMLResponse(sheet_html(unit, rows), headers={"Cache-Control": "no-store"})


@router.get(
    "/sheet.pdf",
    response_class=Response,
    responses={
        **responses(401, 403, 422),
        200: {"content": {"application/pdf": {}}, "description": "A4 PDF"},
    },
)
async def sheet_as_pdf(
    admin: AdminDep,
    session: SessionDep,
    village: Annotated[str, Query(min_length=12, max_length=12)],
) -> Response:
    """可打印的户码单（PDF，A4，中文字体；每行三张，沿虚线剪开发放）。"""
    unit, rows = await in_thread(households_of, session, admin, village)
    pdf = await in_thread(sheet_pdf, unit, rows)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'inline; filename="households-{unit.code}.pdf"',
        },
    )

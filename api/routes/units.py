"""The jurisdiction tree as the caller may see it: their own subtree (admins: all of it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import ColumnElement, and_, func, or_, true
from sqlmodel import Session, col, select

from api.deps import API_PREFIX, CurrentPrincipal, Principal, SessionDep
from api.problems import not_found, responses
from api.schemas import Listing, UnitDetail, UnitOut, UnitSummary
from domain.models import Role, UnitKind
from store.tables import Unit

router = APIRouter(prefix=f"{API_PREFIX}/units", tags=["units"])


def visible_root(principal: Principal) -> str | None:
    """The path prefix of what the caller may browse; None: everything (admins)."""
    if principal.role is Role.ADMIN:
        return None
    if principal.role is Role.DEPARTMENT:
        return principal.county_path or "\x00"  # a department without a county sees nothing
    return principal.unit_path or "\x00"


def _visible(principal: Principal) -> ColumnElement[bool]:
    root = visible_root(principal)
    return true() if root is None else col(Unit.path).startswith(root, autoescape=True)


def _summary(unit: Unit) -> UnitSummary:
    return UnitSummary(
        code=unit.code,
        name=unit.name,
        kind=unit.kind,
        parent_code=unit.parent_code,
        depth=unit.depth,
    )


@router.get("", response_model=Listing[UnitSummary], responses=responses(401, 422))
def list_units(
    principal: CurrentPrincipal,
    session: SessionDep,
    parent: Annotated[str | None, Query(description="只列此单位的直接下级")] = None,
    kind: UnitKind | None = None,
    q: Annotated[str | None, Query(max_length=50, description="名称包含或代码前缀")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> Listing[UnitSummary]:
    """辖区内的单位（县、乡镇、村、网格），按代码排序。"""
    conditions = [_visible(principal), col(Unit.active).is_(True)]
    if parent is not None:
        conditions.append(col(Unit.parent_code) == parent)
    if kind is not None:
        conditions.append(col(Unit.kind) == kind.value)
    if q:
        conditions.append(
            or_(
                col(Unit.name).contains(q, autoescape=True),
                col(Unit.code).startswith(q, autoescape=True),
            )
        )
    where = and_(*conditions)
    total = session.exec(select(func.count()).select_from(Unit).where(where)).one()
    rows = session.exec(select(Unit).where(where).order_by(col(Unit.code)).limit(limit)).all()
    return Listing[UnitSummary](data=[_summary(u) for u in rows], count=total)


@router.get("/{code}", response_model=UnitDetail, responses=responses(401, 404))
def read_unit(
    code: Annotated[str, Path(max_length=64)], principal: CurrentPrincipal, session: SessionDep
) -> UnitDetail:
    """一个单位：其上级链和直接下级。辖区外的单位 404。"""
    unit = _visible_unit(session, principal, code)
    ancestors = [c for c in unit.path.split("/") if c and c != unit.code]
    above = {u.code: u for u in session.exec(select(Unit).where(col(Unit.code).in_(ancestors)))}
    children = session.exec(
        select(Unit)
        .where(col(Unit.parent_code) == unit.code, col(Unit.active).is_(True))
        .order_by(col(Unit.code))
    ).all()
    return UnitDetail(
        **_summary(unit).model_dump(),
        ancestors=[UnitOut(code=c, name=above[c].name) for c in ancestors if c in above],
        children=[_summary(c) for c in children],
    )


def _visible_unit(session: Session, principal: Principal, code: str) -> Unit:
    unit = session.get(Unit, code)
    root = visible_root(principal)
    if unit is None or (root is not None and not unit.path.startswith(root)):
        raise not_found("单位不存在")
    return unit

"""``GET /api/v1/public/places``: the county's townships and villages and the active categories,
all a phone page needs to let a person choose where and what (one small answer, cached by the
field pages' service worker for use without a signal)."""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel
from sqlmodel import Session, col, select

from api.deps import SessionDep, SettingsDep
from api.public.reporting import router
from settings import Settings
from store.tables import Category, Unit


class Place(BaseModel):
    code: str
    name: str


class Township(Place):
    villages: list[Place]


class Places(BaseModel):
    county: Place
    townships: list[Township]
    categories: list[Place]


def places_of(session: Session, settings: Settings) -> Places:
    county = session.get(Unit, settings.county)
    units = session.exec(
        select(Unit)
        .where(col(Unit.path).startswith(f"/{settings.county}/"), col(Unit.active))
        .where(col(Unit.kind).in_(("township", "village")))
        .order_by(col(Unit.code))
    ).all()
    villages: dict[str, list[Place]] = {}
    for unit in units:
        if unit.kind == "village" and unit.parent_code:
            villages.setdefault(unit.parent_code, []).append(Place(code=unit.code, name=unit.name))
    categories = session.exec(
        select(Category).where(col(Category.active)).order_by(col(Category.code))
    ).all()
    return Places(
        county=Place(code=settings.county, name=county.name if county else settings.county),
        townships=[
            Township(code=u.code, name=u.name, villages=villages[u.code])
            for u in units
            if u.kind == "township" and villages.get(u.code)
        ],
        categories=[Place(code=c.code, name=c.name) for c in categories],
    )


@router.get("/places", response_model=Places)
def places(session: SessionDep, settings: SettingsDep, response: Response) -> Places:
    """本县的乡镇、村（社区）和事项类别：手机页面选择用。"""
    response.headers["Cache-Control"] = "public, max-age=300"
    return places_of(session, settings)

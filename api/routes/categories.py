"""``GET /api/v1/categories``: the issue categories a caller of our own API may register under.

Registration takes a category's code or its Chinese name (``api.registration.category_for``); this
list says which are open and which departments an issue of each calls in. Retired categories are
left out unless asked for, flagged ``active: false``; a retired department is called in by nobody,
so it is not listed under any category.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from api.deps import API_PREFIX, CurrentPrincipal, SessionDep
from api.problems import responses
from api.schemas import Listing
from store.tables import Category, Department

router = APIRouter(prefix=f"{API_PREFIX}/categories", tags=["categories"])


class CalledDepartment(BaseModel):
    code: str = Field(examples=["zhenan-zhujian"])
    name: str = Field(examples=["镇安县住房和城乡建设局"])
    short_name: str = Field(examples=["住建"])


class CategoryOut(BaseModel):
    code: str = Field(
        description="类别代码，登记时 category 可填代码或中文名称", examples=["sanitation"]
    )
    name: str = Field(description="中文名称", examples=["环境卫生"])
    departments: list[CalledDepartment] = Field(
        description="该类别事项召集的部门（不含已停用部门）"
    )
    notify_departments: bool = Field(description="事项到达即通知这些部门（不等吹哨）")
    active: bool = Field(description="false：已停用，登记时拒收")


def categories(session: Session, include_retired: bool) -> list[CategoryOut]:
    query = select(Category).order_by(col(Category.code))
    if not include_retired:
        query = query.where(col(Category.active))
    rows = session.exec(query).all()
    called = {code for row in rows for code in row.departments}
    active = {
        d.code: d
        for d in session.exec(
            select(Department).where(col(Department.code).in_(called), col(Department.active))
        )
    }
    return [
        CategoryOut(
            code=row.code,
            name=row.name,
            departments=[
                CalledDepartment(code=c, name=active[c].name, short_name=active[c].short_name)
                for c in row.departments
                if c in active
            ],
            notify_departments=row.notify_departments,
            active=row.active,
        )
        for row in rows
    ]


@router.get("", response_model=Listing[CategoryOut], responses=responses(401, 422))
def list_categories(
    principal: CurrentPrincipal,
    session: SessionDep,
    include_retired: Annotated[
        bool, Query(description="true：连同已停用的类别一起列出（active 为 false）")
    ] = False,
) -> Listing[CategoryOut]:
    """事项类别：代码、中文名称、召集的部门。登记事项时 `category` 可填代码或中文名称；
    已停用的类别默认不列出，登记时拒收（422，指明 `category`）。"""
    found = categories(session, include_retired)
    return Listing[CategoryOut](data=found, count=len(found))

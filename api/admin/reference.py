"""``/api/v1/admin/categories`` and ``/api/v1/admin/departments``: the county's reference data.

Categories name the departments an issue of theirs calls in and whether those hear at once; a
category issues were registered under is retired, never deleted (their records name it).
Categories are county-wide, so only admins of a county (or above) edit them; departments belong
to a county and are edited by its admins.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func
from sqlmodel import Session, col, select

from api.admin.scope import (
    NOT_BLANK,
    AdminDep,
    audit,
    conflict,
    department_in_scope,
    department_scope,
    missing,
    require_county_admin,
    unit_in_scope,
)
from api.deps import API_PREFIX, Principal, SessionDep
from api.problems import forbidden, invalid, responses
from domain.models import UnitKind
from store.tables import Category, Department, Issue

router = APIRouter(prefix=f"{API_PREFIX}/admin", tags=["admin"])

CODE = r"^[a-z][a-z0-9_-]{1,63}$"


class CategoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE, examples=["stray_dogs"])
    name: str = Field(min_length=1, max_length=32, pattern=NOT_BLANK, examples=["流浪犬只"])
    departments: list[str] = Field(default_factory=list, max_length=20)
    notify_departments: bool = Field(
        default=False, description="事项到达即通知这些部门（不等吹哨）"
    )


class CategoryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=32, pattern=NOT_BLANK)
    departments: list[str] | None = Field(default=None, max_length=20)
    notify_departments: bool | None = None
    active: bool | None = Field(default=None, description="false 停用（已有事项的类别只能停用）")


class CategoryOut(BaseModel):
    code: str
    name: str
    departments: list[str]
    notify_departments: bool
    active: bool
    issues: int = Field(description="使用该类别的事项数")


class DepartmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE, examples=["zhenan-tongzhan"])
    name: str = Field(min_length=1, max_length=64, pattern=NOT_BLANK, examples=["镇安县委统战部"])
    short_name: str = Field(min_length=1, max_length=16, pattern=NOT_BLANK, examples=["统战"])
    county: str = Field(min_length=6, max_length=6, examples=["611025"])


class DepartmentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=64, pattern=NOT_BLANK)
    short_name: str | None = Field(default=None, min_length=1, max_length=16, pattern=NOT_BLANK)
    active: bool | None = None


class DepartmentOut(BaseModel):
    code: str
    name: str
    short_name: str
    county: str
    active: bool


def _category(row: Category, issues: int) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "departments": list(row.departments),
        "notify_departments": row.notify_departments,
        "active": row.active,
        "issues": issues,
    }


def _uses(session: Session, code: str) -> int:
    return session.exec(select(func.count()).where(Issue.category == code)).one()


def _checked_departments(session: Session, admin: Principal, codes: list[str]) -> list[str]:
    for index, code in enumerate(codes):
        department = department_in_scope(session, admin, code, f"departments.{index}")
        if not department.active:
            raise invalid(f"departments.{index}", f"{department.name}已停用")
    if len(set(codes)) != len(codes):
        raise invalid("departments", "部门重复")
    return list(codes)


def create_category(session: Session, admin: Principal, body: CategoryIn) -> Category:
    scope = require_county_admin(session, admin)
    departments = _checked_departments(session, admin, body.departments)
    if session.get(Category, body.code) is not None:
        raise conflict("code", f"类别代码 {body.code} 已存在")
    row = Category(
        code=body.code,
        name=body.name.strip(),
        departments=departments,
        notify_departments=body.notify_departments,
    )
    session.add(row)
    audit(session, admin, "category.create", "category", row.code, scope, after=_category(row, 0))
    session.commit()
    return row


def update_category(session: Session, admin: Principal, code: str, body: CategoryPatch) -> Category:
    scope = require_county_admin(session, admin)
    row = session.get(Category, code)
    if row is None:
        raise missing("事项类别")
    before = _category(row, 0)
    if body.departments is not None:
        row.departments = _checked_departments(session, admin, body.departments)
    if body.name is not None:
        row.name = body.name.strip()
    if body.notify_departments is not None:
        row.notify_departments = body.notify_departments
    if body.active is not None:
        row.active = body.active
    after = _category(row, 0)
    if after != before:
        session.add(row)
        audit(session, admin, "category.update", "category", code, scope, before, after)
        session.commit()
    return row


def delete_category(session: Session, admin: Principal, code: str) -> None:
    """Delete a category no issue used; one in use is refused (409): retire it instead."""
    scope = require_county_admin(session, admin)
    row = session.get(Category, code)
    if row is None:
        raise missing("事项类别")
    uses = _uses(session, code)
    if uses:
        raise conflict("code", f"已有 {uses} 件事项使用该类别，不能删除，请停用（active: false）")
    audit(session, admin, "category.delete", "category", code, scope, before=_category(row, 0))
    session.delete(row)
    session.commit()


def _department(row: Department) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "short_name": row.short_name,
        "county": row.county_code,
        "active": row.active,
    }


def create_department(session: Session, admin: Principal, body: DepartmentIn) -> Department:
    county = unit_in_scope(session, admin, body.county, "county")
    if county.kind != UnitKind.COUNTY:
        raise invalid("county", "须为县级单位代码")
    if session.get(Department, body.code) is not None:
        raise conflict("code", f"部门代码 {body.code} 已存在")
    row = Department(
        code=body.code,
        name=body.name.strip(),
        short_name=body.short_name.strip(),
        county_code=county.code,
    )
    session.add(row)
    audit(
        session,
        admin,
        "department.create",
        "department",
        row.code,
        county.path,
        after=_department(row),
    )
    session.commit()
    return row


def update_department(
    session: Session, admin: Principal, code: str, body: DepartmentPatch
) -> Department:
    department = session.get(Department, code)
    if department is None:
        raise missing("部门")
    scope = department_scope(session, department)
    if not admin.within(scope):
        raise forbidden(f"{department.name}不在您的管辖范围内")
    before = _department(department)
    for name in ("name", "short_name", "active"):
        value = getattr(body, name)
        if value is not None:
            setattr(department, name, value.strip() if isinstance(value, str) else value)
    after = _department(department)
    if after != before:
        session.add(department)
        audit(session, admin, "department.update", "department", code, scope, before, after)
        session.commit()
    return department


@router.get("/categories", response_model=list[CategoryOut], responses=responses(401, 403))
def list_categories(admin: AdminDep, session: SessionDep) -> list[CategoryOut]:
    """全部事项类别（含已停用），及各类别的事项数。"""
    counts = dict(session.exec(select(Issue.category, func.count()).group_by(Issue.category)).all())
    rows = session.exec(select(Category).order_by(col(Category.code))).all()
    return [CategoryOut(**_category(r, counts.get(r.code, 0))) for r in rows]


@router.post(
    "/categories",
    status_code=201,
    response_model=CategoryOut,
    responses=responses(401, 403, 409, 422),
)
def post_category(body: CategoryIn, admin: AdminDep, session: SessionDep) -> CategoryOut:
    """新增事项类别（县级管理员）。"""
    return CategoryOut(**_category(create_category(session, admin, body), 0))


@router.patch(
    "/categories/{code}", response_model=CategoryOut, responses=responses(401, 403, 404, 422)
)
def patch_category(
    code: str, body: CategoryPatch, admin: AdminDep, session: SessionDep
) -> CategoryOut:
    """修改事项类别：名称、叫哪些部门、是否即时通知部门；`active: false` 停用。"""
    row = update_category(session, admin, code, body)
    return CategoryOut(**_category(row, _uses(session, code)))


@router.delete("/categories/{code}", status_code=204, responses=responses(401, 403, 404, 409))
def remove_category(code: str, admin: AdminDep, session: SessionDep) -> Response:
    """删除从未使用的类别；已有事项的类别只能停用（409）。"""
    delete_category(session, admin, code)
    return Response(status_code=204)


@router.get("/departments", response_model=list[DepartmentOut], responses=responses(401, 403))
def list_departments(admin: AdminDep, session: SessionDep) -> list[DepartmentOut]:
    """本辖区所属县的部门。"""
    rows = session.exec(select(Department).order_by(col(Department.code))).all()
    return [
        DepartmentOut(**_department(r)) for r in rows if admin.within(department_scope(session, r))
    ]


@router.post(
    "/departments",
    status_code=201,
    response_model=DepartmentOut,
    responses=responses(401, 403, 409, 422),
)
def post_department(body: DepartmentIn, admin: AdminDep, session: SessionDep) -> DepartmentOut:
    """新增部门（所属县须在管理员辖区内）。"""
    return DepartmentOut(**_department(create_department(session, admin, body)))


@router.patch(
    "/departments/{code}", response_model=DepartmentOut, responses=responses(401, 403, 404, 422)
)
def patch_department(
    code: str, body: DepartmentPatch, admin: AdminDep, session: SessionDep
) -> DepartmentOut:
    """修改部门名称、简称；`active: false` 停用。"""
    return DepartmentOut(**_department(update_department(session, admin, code, body)))

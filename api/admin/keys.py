"""``/api/v1/admin/api-keys``: departments' machine clients. A key is shown once at creation;
the list shows its prefix, name, creation and last use; a revoked key stops working at once (the
row is read on every call, whatever the verified-keys cache holds)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from api.admin.scope import (
    NOT_BLANK,
    AdminDep,
    audit,
    department_in_scope,
    department_scope,
    missing,
    unit_in_scope,
)
from api.deps import API_PREFIX, Principal, SessionDep, in_thread
from api.problems import forbidden, invalid, responses
from api.security import new_api_key
from store.tables import ApiKey, Department, Unit

router = APIRouter(prefix=f"{API_PREFIX}/admin/api-keys", tags=["admin"])


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: str = Field(min_length=1, max_length=64, examples=["zhenan-shuili"])
    name: str = Field(min_length=1, max_length=64, pattern=NOT_BLANK, examples=["水利局工单系统"])


class KeyOut(BaseModel):
    prefix: str
    name: str
    department: str
    department_name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    key: str = Field(description="完整的 API Key，只在此返回一次，请立即交给部门保存")


class KeyList(BaseModel):
    data: list[KeyOut]
    count: int


def key_out(session: Session, row: ApiKey) -> KeyOut:
    department = session.get(Department, row.department_code)
    return KeyOut(
        prefix=row.prefix,
        name=row.name,
        department=row.department_code,
        department_name=department.name if department else row.department_code,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def create_key(
    session: Session, admin: Principal, department: str, name: str
) -> tuple[ApiKey, str]:
    found = department_in_scope(session, admin, department)
    if not found.active:
        raise invalid("department", "该部门已停用")
    if not name.strip():
        raise invalid("name", "不能为空")
    row, key = new_api_key(session, found.code, name.strip())
    audit(
        session,
        admin,
        "api_key.create",
        "api_key",
        row.prefix,
        department_scope(session, found),
        after={"department": found.code, "name": row.name},
    )
    session.commit()
    return row, key


def list_keys(
    session: Session, admin: Principal, department: str | None = None, unit: str | None = None
) -> list[ApiKey]:
    """Keys of the departments in the admin's subtree (their counties), newest first."""
    statement = select(ApiKey).order_by(col(ApiKey.created_at).desc())
    if department:
        department_in_scope(session, admin, department)
        statement = statement.where(ApiKey.department_code == department)
    root = unit_in_scope(session, admin, unit).path if unit else admin.unit_path
    if root is not None:
        units = select(Unit.code).where(col(Unit.path).startswith(root, autoescape=True))
        ours = select(Department.code).where(col(Department.county_code).in_(units))
        statement = statement.where(col(ApiKey.department_code).in_(ours))
    return list(session.exec(statement))


def revoke_key(session: Session, admin: Principal, prefix: str) -> ApiKey:
    row = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    if row is None:
        raise missing("API Key")
    department = session.get(Department, row.department_code)
    scope = department_scope(session, department) if department else ""
    if not admin.within(scope):
        raise forbidden("该 API Key 不在您的管辖范围内")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.add(row)
        audit(
            session,
            admin,
            "api_key.revoke",
            "api_key",
            prefix,
            scope,
            before={"revoked_at": None},
            after={"revoked_at": row.revoked_at.isoformat()},
        )
        session.commit()
    return row


@router.post("", status_code=201, response_model=KeyCreated, responses=responses(401, 403, 422))
async def create(body: KeyCreate, admin: AdminDep, session: SessionDep) -> KeyCreated:
    """为部门系统签发 API Key（完整密钥只返回这一次）。"""
    row, key = await in_thread(create_key, session, admin, body.department, body.name)
    return KeyCreated(**key_out(session, row).model_dump(), key=key)


@router.get("", response_model=KeyList, responses=responses(401, 403, 422))
def list_(
    admin: AdminDep,
    session: SessionDep,
    department: Annotated[str | None, Query(max_length=64)] = None,
) -> KeyList:
    """本辖区各部门的 API Key：前缀、名称、创建时间、最近使用、吊销时间（不含密钥）。"""
    rows = list_keys(session, admin, department)
    return KeyList(data=[key_out(session, r) for r in rows], count=len(rows))


@router.delete("/{prefix}", status_code=204, responses=responses(401, 403, 404))
def revoke(prefix: str, admin: AdminDep, session: SessionDep) -> Response:
    """吊销 API Key，立即生效。"""
    revoke_key(session, admin, prefix)
    return Response(status_code=204)

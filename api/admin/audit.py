"""``/api/v1/admin/audit``: the record of admin actions in the caller's subtree, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import col, select

from api.admin.scope import AdminDep
from api.deps import API_PREFIX, SessionDep
from api.problems import responses
from store.tables import AuditRecord

router = APIRouter(prefix=f"{API_PREFIX}/admin/audit", tags=["admin"])


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_role: str
    action: str
    target_kind: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditList(BaseModel):
    data: list[AuditOut]
    count: int


@router.get("", response_model=AuditList, responses=responses(401, 403, 422))
def list_audit(
    admin: AdminDep,
    session: SessionDep,
    action: Annotated[str | None, Query(max_length=64, description="如 user.create")] = None,
    target: Annotated[str | None, Query(max_length=128)] = None,
    before_id: Annotated[int | None, Query(ge=1, description="翻页：早于此 id 的记录")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditList:
    """管理操作的审计记录（谁、何时、做了什么、改前 → 改后，密钥已隐去），本辖区内，新的在前。"""
    statement = select(AuditRecord).order_by(col(AuditRecord.id).desc()).limit(limit)
    if admin.unit_path is not None:
        statement = statement.where(
            col(AuditRecord.scope_path).startswith(admin.unit_path, autoescape=True)
        )
    if action:
        statement = statement.where(AuditRecord.action == action)
    if target:
        statement = statement.where(AuditRecord.target == target)
    if before_id:
        statement = statement.where(col(AuditRecord.id) < before_id)
    rows = session.exec(statement).all()
    return AuditList(
        data=[AuditOut.model_validate(r, from_attributes=True) for r in rows], count=len(rows)
    )

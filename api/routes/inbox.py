"""The in-app inbox: notifications addressed to the caller's unit, department or role."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import ColumnElement, and_, false, func, or_, true
from sqlmodel import col, select

from api.deps import API_PREFIX, CurrentPrincipal, Principal, SessionDep
from api.problems import not_found, responses
from api.schemas import InboxPage, NotificationOut
from domain.models import Role
from store.tables import Notification, Unit

router = APIRouter(prefix=f"{API_PREFIX}/inbox", tags=["inbox"])

INBOX = "inbox"
MAX_ID = 2**31 - 1  # ids are SQL INTEGER: a larger one names no row and must not reach the driver


def addressed_to(principal: Principal) -> ColumnElement[bool]:
    """Inbox rows meant for the caller.

    A unit's and a department's rows are shared by everyone of that unit or department (one read
    marks it read for all, like a shared desk). Supervisors hear of every unit in their subtree,
    admins of the admin notices of theirs.
    """
    n = Notification

    def kind_is(kind: str) -> ColumnElement[bool]:
        return col(n.target_kind) == kind

    def in_subtree() -> ColumnElement[bool]:
        if principal.unit_path is None:
            return true()  # an admin without a unit: everywhere
        codes = select(Unit.code).where(
            col(Unit.path).startswith(principal.unit_path, autoescape=True)
        )
        return col(n.target_code).in_(codes)

    addressed: list[ColumnElement[bool]] = []
    if principal.unit_code:
        addressed.append(and_(kind_is("unit"), col(n.target_code) == principal.unit_code))
    if principal.department_code:
        addressed.append(
            and_(kind_is("department"), col(n.target_code) == principal.department_code)
        )
    if principal.role is Role.SUPERVISOR:
        addressed.append(and_(kind_is("supervisors"), in_subtree()))
    if principal.role is Role.ADMIN:
        addressed.append(and_(kind_is("admins"), in_subtree()))
    if not addressed:
        return false()
    return and_(col(n.channel) == INBOX, or_(*addressed))


def _out(row: Notification) -> NotificationOut:
    assert row.id is not None
    return NotificationOut(
        id=row.id,
        issue_id=row.issue_id,
        kind=row.kind,
        title=row.title,
        body=row.body,
        target_kind=row.target_kind,
        target_code=row.target_code,
        created_at=row.created_at,
        read_at=row.read_at,
    )


@router.get("", response_model=InboxPage, responses=responses(401, 422))
def inbox(
    principal: CurrentPrincipal,
    session: SessionDep,
    unread: Annotated[bool | None, Query(description="true：只列未读")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> InboxPage:
    """收件箱：最新的在前。"""
    mine = addressed_to(principal)
    unread_only = col(Notification.read_at).is_(None)
    query = select(Notification).where(mine)
    if unread is True:
        query = query.where(unread_only)
    elif unread is False:
        query = query.where(col(Notification.read_at).is_not(None))
    rows = session.exec(
        query.order_by(col(Notification.created_at).desc(), col(Notification.id).desc()).limit(
            limit
        )
    ).all()
    unread_count = session.exec(
        select(func.count()).select_from(Notification).where(mine, unread_only)
    ).one()
    return InboxPage(data=[_out(r) for r in rows], count=len(rows), unread=unread_count)


@router.post(
    "/{notification_id}/read", response_model=NotificationOut, responses=responses(401, 404)
)
def mark_read(
    notification_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    principal: CurrentPrincipal,
    session: SessionDep,
) -> NotificationOut:
    """标记为已读（重复标记不改变首次阅读时间）。"""
    row = session.exec(
        select(Notification).where(col(Notification.id) == notification_id, addressed_to(principal))
    ).first()
    if row is None:
        raise not_found("通知不存在")
    if row.read_at is None:
        # The API's one write to notifications: reading is the user's act, not an activity's.
        row.read_at = datetime.now(UTC)
        row.status = "read"
        session.add(row)
        session.commit()
        session.refresh(row)
    return _out(row)

"""Listing issues from the read model: the filters, who may read which rows, keyset pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, false, func, or_, true
from sqlmodel import Session, col, select

from api.cursors import after, encode_cursor
from api.deps import Principal
from api.issue_detail import invalid_out
from api.problems import forbidden, invalid
from api.schemas import (
    IssueSummary,
    Page,
    UnitOut,
)
from domain import labels
from domain.lifecycle.trail import deadline_now
from domain.models import (
    Level,
    Role,
    Status,
    Urgency,
)
from store.issue_state import invalid_mark
from store.tables import Category, Issue, IssueDepartment, Unit

# Namespaces of the uuid5 ids: a retried request (same caller, same key) maps to the same id.

# ---- lists --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueFilters:
    status: Status | None = None
    level: Level | None = None
    unit: str | None = None
    category: str | None = None
    urgency: Urgency | None = None
    overdue: bool | None = None
    since: datetime | None = None
    until: datetime | None = None


def aware(value: datetime | None, timezone: str) -> datetime | None:
    """A naive query time is read in the county's zone (people type local times)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(timezone))


def _subtree(path: str) -> ColumnElement[bool]:
    return or_(
        col(Issue.registered_unit_path).startswith(path, autoescape=True),
        col(Issue.unit_path).startswith(path, autoescape=True),
    )


def readable(session: Session, principal: Principal) -> ColumnElement[bool]:
    """The SQL twin of ``Principal.can_read``: the issues a caller may see in a list."""
    if principal.role is Role.DEPARTMENT and principal.department_code:
        code = principal.department_code
        categories = [
            c.code
            for c in session.exec(select(Category)).all()
            if c.notify_departments and code in c.departments
        ]
        called = select(IssueDepartment.issue_id).where(IssueDepartment.department_code == code)
        return or_(col(Issue.id).in_(called), col(Issue.category).in_(categories))
    if principal.role is Role.CITIZEN and principal.issue_id:
        return col(Issue.id) == principal.issue_id
    if principal.role is Role.ADMIN and principal.unit_path is None:
        return true()
    if principal.unit_path:
        return _subtree(principal.unit_path)
    return false()


def unit_filter_path(session: Session, principal: Principal, code: str) -> str:
    """The path of the ``unit`` filter; it must be a unit the caller oversees."""
    unit = session.get(Unit, code)
    if unit is None:
        raise invalid("unit", "未知的单位代码")
    if principal.role is not Role.DEPARTMENT and not principal.within(unit.path):
        raise forbidden(f"{unit.name}不在您的辖区内", field="unit")
    return unit.path


def list_issues(
    session: Session,
    principal: Principal,
    filters: IssueFilters,
    cursor: str | None,
    limit: int,
) -> Page[IssueSummary]:
    """A page of issues, newest registration first, keyset-paginated on (registered_at, id) so a
    page never repeats or skips rows while new issues arrive."""
    conditions: list[ColumnElement[bool]] = [readable(session, principal)]
    if filters.unit:
        conditions.append(_subtree(unit_filter_path(session, principal, filters.unit)))
    if filters.status:
        conditions.append(col(Issue.status) == filters.status.value)
    if filters.level:
        conditions.append(col(Issue.level) == filters.level.value)
    if filters.category:
        conditions.append(col(Issue.category) == filters.category)
    if filters.urgency:
        conditions.append(col(Issue.urgency) == filters.urgency.value)
    if filters.overdue is not None:
        conditions.append(col(Issue.overdue).is_(true() if filters.overdue else false()))
    if filters.since:
        conditions.append(col(Issue.registered_at) >= filters.since)
    if filters.until:
        conditions.append(col(Issue.registered_at) < filters.until)
    where = and_(*conditions)
    total = session.exec(select(func.count()).select_from(Issue).where(where)).one()

    page = select(Issue, Unit.name).join(Unit, col(Unit.code) == col(Issue.unit_code), isouter=True)
    page = page.where(where)
    if cursor:
        page = page.where(after(cursor, Issue.registered_at, Issue.id))
    page = page.order_by(col(Issue.registered_at).desc(), col(Issue.id).desc()).limit(limit + 1)
    rows = session.exec(page).all()
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1][0] if more and rows else None
    return Page[IssueSummary](
        data=[_summary(row, name) for row, name in rows],
        count=total,
        next_cursor=encode_cursor(last.registered_at, last.id) if last else None,
    )


def _summary(row: Issue, unit_name: str | None) -> IssueSummary:
    return IssueSummary(
        id=row.id,
        tracking_code=row.tracking_code,
        category=row.category,
        title=row.title,
        urgency=row.urgency,
        status=Status(row.status),
        status_label=labels.STATUS.get(row.status, row.status),
        level=row.level,
        unit=UnitOut(code=row.unit_code, name=unit_name or row.unit_code),
        deadline=deadline_now(Status(row.status), row.deadline, row.feedback_deadline),
        overdue=row.overdue,
        registered_at=row.registered_at,
        closed_at=row.closed_at,
        invalid=invalid_out(invalid_mark(row)),
    )

"""Lists and statistics of deliberations, in SQL over the read model.

``readable`` is the SQL twin of ``api.deliberations.can_read``: the caller's subtree (by the units'
materialised paths, where a deliberation was opened or where it is now), the units invited or
responsible, and a department's invitations. Pages are keyset-paginated on (opened_at, id) like
the issue list; statistics are ``GROUP BY``s over the same conditions, so a county of thousands of
villages is counted whole, not a first page of it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, true
from sqlmodel import Session, col, select

from api.cursors import after, encode_cursor
from api.deliberation_detail import summary, unit_names
from api.deps import Principal
from api.problems import invalid
from domain.deliberation.rules import STAFF_READERS
from domain.models import Role
from store.db import json_list_has
from store.deliberation_tables import Deliberation
from store.tables import Unit


def _subtree(path: str) -> ColumnElement[bool]:
    # Opened here, or referred up to here: both subtrees read it.
    return or_(
        col(Deliberation.opened_unit_path).startswith(path, autoescape=True),
        col(Deliberation.unit_path).startswith(path, autoescape=True),
    )


def readable(session: Session, principal: Principal) -> ColumnElement[bool]:
    """The deliberations a caller may see in a list or a count."""
    if principal.role is Role.DEPARTMENT:
        code = principal.department_code
        return json_list_has(session, Deliberation.departments, code) if code else false()
    if principal.role not in STAFF_READERS:
        return false()
    if principal.role is Role.ADMIN and principal.unit_path is None:
        return true()
    seen: list[ColumnElement[bool]] = []
    if principal.unit_path:
        seen.append(_subtree(principal.unit_path))
    if principal.unit_code:
        seen.append(json_list_has(session, Deliberation.participant_units, principal.unit_code))
        seen.append(col(Deliberation.responsible_unit) == principal.unit_code)
    return or_(*seen) if seen else false()


def conditions(
    session: Session, principal: Principal, unit: str | None, status: str | None
) -> ColumnElement[bool]:
    """What a list or a count covers: readable, in ``unit``'s subtree, of ``status``."""
    where = [readable(session, principal)]
    if unit is not None:
        row = session.get(Unit, unit)
        if row is None:
            raise invalid("unit", "未知的单位代码")
        where.append(_subtree(row.path))
    if status is not None:
        where.append(col(Deliberation.status) == status)
    return and_(*where)


def listing(
    session: Session,
    principal: Principal,
    unit: str | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """A page of deliberations, newest opened first, with the count of all that match."""
    where = conditions(session, principal, unit, status)
    total = session.exec(select(func.count()).select_from(Deliberation).where(where)).one()
    page = select(Deliberation).where(where)
    if cursor:
        page = page.where(after(cursor, Deliberation.opened_at, Deliberation.id))
    page = page.order_by(col(Deliberation.opened_at).desc(), col(Deliberation.id).desc())
    rows = session.exec(page.limit(limit + 1)).all()
    last = rows[limit - 1] if len(rows) > limit else None
    rows = rows[:limit]
    names = unit_names(session, [c for r in rows for c in (r.unit_code, r.responsible_unit)])
    return {
        "data": [summary(r, names) for r in rows],
        "count": total,
        "next_cursor": encode_cursor(last.opened_at, last.id) if last else None,
    }


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def statistics(session: Session, principal: Principal, unit: str | None) -> dict[str, Any]:
    """Counts of what the caller may read: by status (open, submitted, implementing, overdue),
    the share of deliberations whose rounds reached consensus, and decisions implemented on time,
    by the level that decided."""
    where = conditions(session, principal, unit, None)
    total, overdue, agreed, settled = session.exec(
        select(
            func.count(),
            _count_if(col(Deliberation.overdue).is_(true())),
            _count_if(col(Deliberation.consensus).is_(true())),
            _count_if(col(Deliberation.consensus).is_not(None)),
        )
        .select_from(Deliberation)
        .where(where)
    ).one()
    by_status = session.exec(
        select(col(Deliberation.status), func.count())
        .where(where)
        .group_by(col(Deliberation.status))
    ).all()
    completed = col(Deliberation.completed_at).is_not(None)
    by_level = session.exec(
        select(
            col(Deliberation.decision_level),
            func.count(),
            _count_if(completed),
            _count_if(and_(completed, col(Deliberation.on_time).is_(true()))),
        )
        .where(where, col(Deliberation.decision_level).is_not(None))
        .group_by(col(Deliberation.decision_level))
    ).all()
    return {
        "total": total,
        "by_status": {status: int(n) for status, n in by_status},
        "overdue": int(overdue),
        "consensus_share": int(agreed) / int(settled) if settled else None,
        "by_level": {
            level: {
                "decisions": int(decisions),
                "completed": int(done),
                "on_time": int(on_time),
                "on_time_rate": int(on_time) / int(done) if done else None,
            }
            for level, decisions, done, on_time in by_level
        },
    }

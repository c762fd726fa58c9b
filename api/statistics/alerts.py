"""The warned (预警) and overdue (超期) issues of a scope whose clock still runs, as the
dashboard's live lists."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from api.schemas import AlertListOut, AlertOut, AlertsOut, UnitOut
from api.statistics import figures
from api.statistics.scope import StatsScope, issues_of, within_period
from domain import labels
from domain.models import Status
from store.tables import Category, Issue, Unit


def _alert_list(
    session: Session, conditions: list[ColumnElement[bool]], limit: int, names: dict[str, str]
) -> AlertListOut:
    total = session.exec(select(func.count()).select_from(Issue).where(*conditions)).one()
    rows = session.exec(
        select(Issue, Unit.name)
        .join(Unit, col(Unit.code) == col(Issue.unit_code), isouter=True)
        .where(*conditions)
        .order_by(col(Issue.deadline).asc(), col(Issue.registered_at).asc(), col(Issue.id))
        .limit(limit)
    ).all()
    townships = {r.township_code for r, _ in rows if r.township_code}
    township_names = {
        u.code: u.name for u in session.exec(select(Unit).where(col(Unit.code).in_(townships)))
    }
    return AlertListOut(
        count=total,
        data=[
            AlertOut(
                id=row.id,
                tracking_code=row.tracking_code,
                title=row.title,
                category=row.category,
                category_name=names.get(row.category),
                urgency=row.urgency,
                status=Status(row.status),
                status_label=labels.STATUS.get(row.status, row.status),
                level=row.level,
                level_label=labels.LEVEL.get(row.level, row.level),
                unit=UnitOut(code=row.unit_code, name=unit_name or row.unit_code),
                township=(
                    UnitOut(code=row.township_code, name=township_names[row.township_code])
                    if row.township_code in township_names
                    else None
                ),
                deadline=row.deadline,
                warnings_sent=row.warnings_sent,
                overdue=row.overdue,
                registered_at=row.registered_at,
            )
            for row, unit_name in rows
        ],
    )


def build_alerts(session: Session, scope: StatsScope, limit: int = 50) -> AlertsOut:
    """The issues warned (预警) and overdue (超期) in a scope whose clock still runs (not yet
    resolved), most pressing first."""
    base = [
        *issues_of(scope),
        *within_period(Issue.registered_at, scope),
        col(Issue.status).in_(sorted(figures.RUNNING_STATUSES)),
    ]
    names = {c.code: c.name for c in session.exec(select(Category))}
    return AlertsOut(
        unit=UnitOut(code=scope.unit.code, name=scope.unit.name),
        warning=_alert_list(
            session,
            [*base, col(Issue.overdue).is_(False), col(Issue.warnings_sent) > 0],
            limit,
            names,
        ),
        overdue=_alert_list(session, [*base, col(Issue.overdue).is_(True)], limit, names),
    )

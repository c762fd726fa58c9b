"""Statistics of a unit's subtree over a period (read model only; the counting is api/stats.py)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from api import stats
from api.deps import API_PREFIX, STAFF_ROLES, CurrentPrincipal, SessionDep, SettingsDep
from api.issues import aware
from api.problems import forbidden, invalid, responses
from api.schemas import DurationsOut, RankingOut, RatesOut, StatsOut, UnitOut
from store.tables import Issue, IssueLevel, Unit

router = APIRouter(prefix=f"{API_PREFIX}/stats", tags=["stats"])

Row = tuple[str, stats.IssueFacts]  # (registered unit path, facts)
LevelRow = tuple[str, stats.LevelFacts]  # (unit path, facts)


def _period(
    column: Any, since: datetime | None, until: datetime | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if since is not None:
        conditions.append(col(column) >= since)
    if until is not None:
        conditions.append(col(column) < until)
    return conditions


def _issue_rows(
    session: Session, path: str, since: datetime | None, until: datetime | None
) -> list[Row]:
    # Issues count for the subtree where they were registered: "小事不出村" asks where an issue
    # that arose here was finally resolved.
    query = select(Issue).where(
        col(Issue.registered_unit_path).startswith(path, autoescape=True),
        *_period(Issue.registered_at, since, until),
    )
    return [
        (
            i.registered_unit_path,
            stats.IssueFacts(
                status=i.status,
                registered_at=i.registered_at,
                overdue=i.overdue,
                warnings_sent=i.warnings_sent,
                resolution_level=i.resolution_level,
                resolved_at=i.resolved_at,
                feedback_solved=i.feedback_solved,
                feedback_satisfaction=i.feedback_satisfaction,
            ),
        )
        for i in session.exec(query)
    ]


def _level_rows(
    session: Session, path: str, since: datetime | None, until: datetime | None
) -> list[LevelRow]:
    # A stay counts for the unit that had the issue during it: response and on-time are that
    # unit's record, wherever the issue came from.
    query = (
        select(IssueLevel, Unit.path)
        .join(Unit, col(Unit.code) == col(IssueLevel.unit_code))
        .where(
            col(Unit.path).startswith(path, autoescape=True),
            *_period(IssueLevel.entered_at, since, until),
        )
    )
    return [
        (
            unit_path,
            stats.LevelFacts(
                level=lv.level,
                outcome=lv.outcome,
                on_time=lv.on_time,
                accepted_on_time=lv.accepted_on_time,
            ),
        )
        for lv, unit_path in session.exec(query)
    ]


def _rates(rates: stats.Rates) -> RatesOut:
    return RatesOut(**asdict(rates))


@router.get("", response_model=StatsOut, responses=responses(401, 403, 422))
def unit_stats(
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    unit: Annotated[str | None, Query(description="单位代码，默认为本单位")] = None,
    since: Annotated[datetime | None, Query(description="登记时间下限（含）")] = None,
    until: Annotated[datetime | None, Query(description="登记时间上限（不含）")] = None,
) -> StatsOut:
    """统计：状态分布、办结层级占比、各层级按时率、办理时长、三率及下级单位排名。"""
    if principal.role not in STAFF_ROLES:
        raise forbidden("统计只对工作人员开放")
    code = unit or principal.unit_code
    target = session.get(Unit, code) if code else None
    if target is None:
        raise invalid("unit", "未知的单位代码")
    if not principal.within(target.path):
        raise forbidden(f"{target.name}不在您的辖区内", field="unit")
    since, until = aware(since, settings.timezone), aware(until, settings.timezone)

    issue_rows = _issue_rows(session, target.path, since, until)
    level_rows = _level_rows(session, target.path, since, until)
    summary = stats.summarize([f for _, f in issue_rows], [f for _, f in level_rows])

    children = session.exec(
        select(Unit)
        .where(col(Unit.parent_code) == target.code, col(Unit.active).is_(True))
        .order_by(col(Unit.code))
    ).all()
    by_code = {c.code: c for c in children}
    ranked = stats.rank(
        stats.Ranked(
            child.code,
            stats.summarize(
                [f for p, f in issue_rows if p.startswith(child.path)],
                [f for p, f in level_rows if p.startswith(child.path)],
            ),
        )
        for child in children
    )
    return StatsOut(
        unit=UnitOut(code=target.code, name=target.name),
        since=since,
        until=until,
        total=summary.total,
        by_status=summary.by_status,
        open=summary.open,
        warning=summary.warning,
        overdue=summary.overdue,
        resolved=summary.resolved,
        resolution_share=summary.resolution_share,
        on_time=summary.on_time,
        time_to_resolve=DurationsOut(**asdict(summary.time_to_resolve)),
        rates=_rates(summary.rates),
        rankings=[
            RankingOut(
                rank=r.rank,
                unit=UnitOut(code=r.key, name=by_code[r.key].name),
                kind=by_code[r.key].kind,
                total=r.summary.total,
                overdue=r.summary.overdue,
                rates=_rates(r.summary.rates),
            )
            for r in ranked
        ],
    )

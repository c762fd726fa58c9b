"""What a unit's 公示栏 shows for a period, read from the read model.

Each part reuses the query that already owns it: the deliberations' published decisions
(``api.deliberation_detail.published``), the figures of ``GET /stats`` (``api.statistics``). The
closed issues are read column by column, so nothing a citizen wrote or that names them (title,
description, reporter, comments) is ever loaded, let alone published.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from api import deliberation_detail
from api.disclosure.period import Period, quarter_of
from api.disclosure.schemas import (
    ClosedIssue,
    Decision,
    Disclosure,
    Figures,
    PeriodOut,
    Rates,
    UnitRef,
)
from api.problems import not_found
from api.statistics import figures, tallies
from api.statistics.periods import between
from api.statistics.scope import StatsScope, in_subtree
from domain import labels
from domain.deliberation import labels as deliberation_labels
from domain.models import Status
from store.tables import Category, Issue, IssueLevel, Unit, table_of

ISSUE_LIMIT = 500  # a county's month can hold thousands: the board lists the latest, counts all
DELIBERATION_STATUS = {
    "open": "协商中",
    "submitted": "提请决策",
    "implementing": "落实中",
    "awaiting_evaluation": "待评议",
    "closed": "已完成",
    "withdrawn": "已撤回",
}
UNRATED = "未评价"
# The only columns of an issue the board reads: none holds a name, a phone or a citizen's words.
READ_COLUMNS = (
    "id",
    "category",
    "public_title",
    "village_code",
    "resolution_level",
    "resolution_unit_name",
    "closed_at",
    "overdue",
    "feedback_solved",
    "feedback_satisfaction",
)


def neutral_title(category_name: str) -> str:
    """What the board says of an issue whose title no one approved for publication."""
    return f"{category_name}方面的诉求"


def public_unit(session: Session, code: str) -> Unit:
    unit = session.get(Unit, code)
    if unit is None or not unit.active:
        raise not_found("单位不存在")
    return unit


def _ancestors(session: Session, unit: Unit) -> list[UnitRef]:
    codes = [c for c in unit.path.split("/") if c and c != unit.code]
    names = dict(session.exec(select(Unit.code, Unit.name).where(col(Unit.code).in_(codes))).all())
    return [UnitRef(code=c, name=names[c]) for c in codes if c in names]


def closed_issues(session: Session, unit: Unit, period: Period) -> tuple[list[ClosedIssue], int]:
    """The issues of the unit's subtree closed in the period, newest first, and how many."""
    where = [
        in_subtree(Issue.registered_unit_path, unit),
        col(Issue.status) == Status.CLOSED.value,
        *between(Issue.closed_at, period.since, period.until),
    ]
    total = session.exec(select(func.count()).select_from(Issue).where(*where)).one()
    rows = (
        session.connection()
        .execute(
            select_columns(*(table_of(Issue).c[name] for name in READ_COLUMNS))
            .where(*where)
            .order_by(col(Issue.closed_at).desc(), col(Issue.id))
            .limit(ISSUE_LIMIT)
        )
        .all()
    )
    late = set(
        session.exec(
            select(IssueLevel.issue_id)
            .where(
                col(IssueLevel.issue_id).in_([r.id for r in rows]),
                col(IssueLevel.on_time).is_(False),
            )
            .distinct()
        ).all()
    )
    categories = dict(session.exec(select(Category.code, Category.name)).all())
    villages = _names(session, {r.village_code for r in rows if r.village_code})
    out = []
    for r in rows:
        name = categories.get(r.category, r.category)
        rated = r.feedback_satisfaction
        out.append(
            ClosedIssue(
                category=r.category,
                category_name=name,
                title=r.public_title or neutral_title(name),
                title_approved=r.public_title is not None,
                village=_ref(r.village_code, villages),
                resolved_level=r.resolution_level,
                resolved_level_name=labels.LEVEL.get(r.resolution_level or ""),
                resolved_unit=r.resolution_unit_name,
                closed_at=r.closed_at,
                on_time=not r.overdue and r.id not in late,
                solved=r.feedback_solved,
                satisfaction=rated,
                satisfaction_name=labels.SATISFACTION.get(rated or "", UNRATED),
            )
        )
    return out, total


def _ref(code: str | None, names: dict[str, str]) -> UnitRef | None:
    return UnitRef(code=code, name=names[code]) if code in names else None


def _names(session: Session, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    return dict(session.exec(select(Unit.code, Unit.name).where(col(Unit.code).in_(codes))).all())


def decisions(session: Session, unit: Unit, period: Period) -> list[Decision]:
    """The published decisions (``deliberation_detail.published``) still relevant to the period:
    decided before it ended and not completed before it began."""
    rows = [
        r
        for r in deliberation_detail.published(session, unit.code)
        if _before(r["decided_at"], period.until)
        and (r["completed_at"] is None or not _before(r["completed_at"], period.since))
    ]
    units = _names(session, {r["responsible_unit"] for r in rows if r["responsible_unit"]})
    return [
        Decision(
            topic=r["topic"],
            kind=r["kind"],
            kind_name=deliberation_labels.KIND.get(r["kind"], r["kind"]),
            status=r["status"],
            status_name=DELIBERATION_STATUS.get(r["status"], r["status"]),
            decision=r["decision"],
            decided_level=r["decided_level"],
            decided_at=r["decided_at"],
            responsible_unit=_ref(r["responsible_unit"], units),
            due=r["due"],
            progress=r["progress"],
            completed_at=r["completed_at"],
            on_time=r["on_time"],
            tally=r["tally"],
        )
        for r in rows
    ]


def _before(moment: datetime | None, limit: datetime) -> bool:
    return moment is not None and moment < limit


def period_figures(
    session: Session, unit: Unit, period: Period, weights: figures.Weights
) -> Figures:
    """The figures ``GET /stats`` gives for the unit and period, from the same functions."""
    scope = StatsScope(unit, period.since, period.until)
    counting = tallies.issue_counts(session, scope)
    stays = tallies.stay_rows(session, scope)
    summary = figures.summarize([c for _, c in counting.by_path], [s for _, s in stays], weights)
    rates = summary.rates
    return Figures(
        period=_period_out(period),
        registered=summary.total,
        resolved=summary.resolved,
        resolution_share=summary.resolution_share,
        on_time=summary.on_time,
        rates=Rates(
            response=rates.response,
            resolution=rates.resolution,
            satisfaction=rates.satisfaction,
            composite=rates.composite,
            feedback=rates.feedback,
        ),
    )


def _period_out(period: Period) -> PeriodOut:
    return PeriodOut(since=period.since, until=period.until, label=period.label)


def disclosure(
    session: Session, code: str, period: Period, timezone: str, weights: figures.Weights
) -> Disclosure:
    """Everything the board of ``code`` shows for ``period``."""
    unit = public_unit(session, code)
    quarter = quarter_of(period.since, ZoneInfo(timezone))
    issues, count = closed_issues(session, unit, period)
    return Disclosure(
        unit=UnitRef(code=unit.code, name=unit.name),
        ancestors=_ancestors(session, unit),
        period=_period_out(period),
        issues=issues,
        issues_count=count,
        decisions=decisions(session, unit, period),
        figures=period_figures(session, unit, period, weights),
        quarter=period_figures(session, unit, quarter, weights),
    )

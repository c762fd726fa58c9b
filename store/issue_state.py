"""An issue as the read model holds it, in the workflow's own shape (``IssueState``).

The API answers every issue through one mapper from ``IssueState``; this turns the read model's
rows into one, so a recorded issue and a live one answer in the same shape by the same code.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from domain.models import (
    Actor,
    Channel,
    DepartmentCall,
    Event,
    EventType,
    FeedbackRecord,
    InvalidKind,
    InvalidMark,
    IssueState,
    LevelRecord,
    NewIssue,
    Outcome,
    Reporter,
    Resolution,
    Role,
    Satisfaction,
    Status,
    UnitKind,
    UnitRef,
    Urgency,
)
from store.tables import Department, Issue, IssueDepartment, IssueEvent, IssueLevel, Unit
from store.units_import import UnitNotFound, ladder


def _unit_names(session: Session, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = session.exec(select(Unit.code, Unit.name).where(col(Unit.code).in_(codes))).all()
    return {code: name for code, name in rows}


def _ref(code: str, kind: str, names: dict[str, str]) -> UnitRef:
    return UnitRef(code=code, name=names.get(code, code), kind=UnitKind(kind))


def _ladder_of(session: Session, code: str, names: dict[str, str], kind: str) -> list[UnitRef]:
    try:
        return ladder(session, code)
    except (UnitNotFound, ValueError):
        return [_ref(code, kind, names)]


def events_of(session: Session, issue_id: str) -> list[Event]:
    rows = session.exec(
        select(IssueEvent).where(IssueEvent.issue_id == issue_id).order_by(col(IssueEvent.seq))
    ).all()
    return [
        Event(
            seq=e.seq,
            type=EventType(e.type),
            at=e.at,
            actor=Actor(
                user=e.actor_user,
                role=Role(e.actor_role),
                unit_code=e.actor_unit,
                department_code=e.actor_department,
                name=e.actor_name,
            ),
            level=e.level,
            unit=e.unit_code,
            data=dict(e.data),
        )
        for e in rows
    ]


def state_of_rows(session: Session, row: Issue) -> IssueState:
    """The issue as the read model holds it, in the workflow's own shape."""
    levels = session.exec(
        select(IssueLevel).where(IssueLevel.issue_id == row.id).order_by(col(IssueLevel.idx))
    ).all()
    calls = session.exec(
        select(IssueDepartment)
        .where(IssueDepartment.issue_id == row.id)
        .order_by(col(IssueDepartment.whistled_at), col(IssueDepartment.id))
    ).all()
    registered_code = [c for c in row.registered_unit_path.split("/") if c][-1]
    names = _unit_names(session, {row.unit_code, registered_code})
    registered = _ladder_of(session, registered_code, names, UnitKind.VILLAGE.value)
    current = _ladder_of(session, row.unit_code, names, row.level)
    department_names = {
        d.code: d.name
        for d in session.exec(
            select(Department).where(col(Department.code).in_({c.department_code for c in calls}))
        )
    }
    feedback = None
    if row.feedback_at is not None:
        feedback = FeedbackRecord(
            solved=bool(row.feedback_solved),
            satisfaction=Satisfaction(row.feedback_satisfaction or "satisfied"),
            comment=row.feedback_comment,
            at=row.feedback_at,
            by="",
            by_role=Role(row.feedback_by_role or "citizen"),
        )
    return IssueState(
        issue=NewIssue(
            issue_id=row.id,
            tracking_code=row.tracking_code,
            category=row.category,
            title=row.title,
            description=row.description,
            urgency=Urgency(row.urgency),
            ladder=registered,
            registered_by=Actor(user="", role=Role.SYSTEM),
            registered_at=row.registered_at,
            reporter=Reporter(name=row.reporter_name, phone=row.reporter_phone),
            location=row.location,
            attachments=list(row.attachments),
            channel=Channel(row.channel),
        ),
        status=Status(row.status),
        ladder=current,
        rung=0,
        levels=[
            LevelRecord(
                level=lv.level,
                unit=_ref(lv.unit_code, lv.level, {lv.unit_code: lv.unit_name or lv.unit_code}),
                entered_at=lv.entered_at,
                deadline=lv.deadline,
                accept_deadline=lv.accept_deadline,
                provisional=row.provisional if i == len(levels) - 1 else False,
                accepted_at=lv.accepted_at,
                accepted_on_time=lv.accepted_on_time,
                left_at=lv.left_at,
                outcome=Outcome(lv.outcome) if lv.outcome else None,
                on_time=lv.on_time,
                extended=lv.extended,
                reason=lv.reason,
            )
            for i, lv in enumerate(levels)
        ],
        departments=[
            DepartmentCall(
                department=c.department_code,
                name=department_names.get(c.department_code, c.department_code),
                level=c.level,
                unit=c.unit_code,
                whistled_at=c.whistled_at,
                report_deadline=c.report_deadline,
                reported_at=c.reported_at,
                on_time=c.on_time,
                contribution=c.contribution,
            )
            for c in calls
        ],
        resolution=(
            Resolution(
                level=row.resolution_level,
                unit=row.resolution_unit or "",
                unit_name=row.resolution_unit_name or "",
                summary=row.resolution_summary or "",
                at=row.resolved_at or row.registered_at,
                by="",
            )
            if row.resolution_level
            else None
        ),
        feedback=feedback,
        feedback_deadline=row.feedback_deadline,
        overdue=row.overdue,
        closed_at=row.closed_at,
        invalid=invalid_mark(row),
        next_seq=row.last_seq + 1,
        recorded_seq=row.last_seq + 1,
    )


def invalid_mark(row: Issue) -> InvalidMark | None:
    """The standing invalid mark the row holds (None: none)."""
    if row.invalid_kind is None:
        return None
    return InvalidMark(
        kind=InvalidKind(row.invalid_kind),
        reason=row.invalid_reason or "",
        at=row.invalid_at or row.updated_at,
        by="",
        unit=row.unit_code,
        duplicate_of=row.duplicate_of,
        duplicate_code=row.duplicate_code,
        review_until=row.invalid_review_until,
    )

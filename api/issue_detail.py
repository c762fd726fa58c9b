"""One issue, read: from the read model for everyone, live from its workflow for supervisors.

One mapper (``detail``) turns an ``IssueState`` into the API's answer. The read model's rows become
an ``IssueState`` first (``state_of_rows``), so a recorded issue and a live one answer in the same
shape by the same code; the audit trail always comes from the read model (the live state keeps
only the events its next record writes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api import metrics
from api.deps import IssueScope, Principal, in_thread
from api.problems import ProblemError, forbidden, not_found
from api.schemas import (
    ActorOut,
    DepartmentCallOut,
    EventOut,
    FeedbackOut,
    IssueDetail,
    LevelOut,
    ReporterOut,
    ResolutionOut,
    UnitOut,
)
from domain import labels
from domain.lifecycle.rules import REFUSALS, STAFF_ROLES, IssueView
from domain.lifecycle.trail import live_deadline
from domain.models import (
    Actor,
    DepartmentCall,
    Event,
    EventType,
    FeedbackRecord,
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
from store.tables import Category, Department, Issue, IssueDepartment, IssueEvent, IssueLevel, Unit
from store.units_import import UnitNotFound, ladder
from workflows.issue import QUERY_STATE, workflow_id

_ISSUE_ID = re.compile(r"^[0-9a-f]{32}$")
RPC_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Loaded:
    """An issue the caller may read: its state (from rows or live), events and scope."""

    scope: IssueScope
    state: IssueState
    events: list[Event]
    live: bool = False


# ---- rows → state -------------------------------------------------------------------------------


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


def events_of(session: Session, issue_id: str, after: int = 0) -> list[Event]:
    rows = session.exec(
        select(IssueEvent)
        .where(IssueEvent.issue_id == issue_id, col(IssueEvent.seq) > after)
        .order_by(col(IssueEvent.seq))
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
        next_seq=row.last_seq + 1,
        recorded_seq=row.last_seq + 1,
    )


# ---- scope: what the rules read -----------------------------------------------------------------


def _notified_at_once(session: Session, category: str) -> frozenset[str]:
    """The category's departments that hear of every new arrival (and so may read the issue)."""
    row = session.get(Category, category)
    if row is None or not row.notify_departments:
        return frozenset()
    return frozenset(row.departments)


def scope_of(session: Session, row: Issue, state: IssueState) -> IssueScope:
    view = IssueView(
        issue_id=row.id,
        status=state.status,
        unit_code=state.unit.code,
        unit_name=state.unit.name,
        above=tuple(u.code for u in state.ladder[state.rung + 1 :]),
        called=frozenset(d.department for d in state.departments),
        open_calls=frozenset(d.department for d in state.departments if d.reported_at is None),
        handled_by=frozenset(lv.unit.code for lv in state.levels),
    )
    return IssueScope(
        view=view,
        registered_unit_path=row.registered_unit_path,
        unit_path=row.unit_path,
        notified_departments=_notified_at_once(session, row.category),
    )


def _load_rows(session: Session, principal: Principal, issue_id: str) -> Loaded:
    row = session.get(Issue, issue_id) if _ISSUE_ID.match(issue_id) else None
    if row is None:
        raise not_found("事项不存在")
    state = state_of_rows(session, row)
    scope = scope_of(session, row, state)
    if not principal.can_read(scope):
        raise not_found("事项不存在")
    return Loaded(scope=scope, state=state, events=events_of(session, row.id))


async def load(session: Session, principal: Principal, issue_id: str) -> Loaded:
    """One issue the caller may read, from the read model (updates answer after their record,
    so a caller reads its own writes).

    Raises:
        ProblemError: 404 when the issue does not exist or lies outside the caller's scope — the
            two look the same, so existence stays private.
    """
    return await in_thread(_load_rows, session, principal, issue_id)


async def load_live(
    session: Session, temporal: Client, principal: Principal, issue_id: str
) -> Loaded:
    """The issue straight from its running workflow (the supervisors' live view); a finished
    issue Temporal has let go of answers from the read model."""
    loaded = await load(session, principal, issue_id)
    handle = temporal.get_workflow_handle(workflow_id(issue_id))
    try:
        state: IssueState = await handle.query(
            QUERY_STATE, result_type=IssueState, rpc_timeout=_rpc_timeout()
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return loaded
    recorded = [e for e in loaded.events if e.seq < state.recorded_seq]
    return Loaded(scope=loaded.scope, state=state, events=recorded + state.events, live=True)


def _rpc_timeout() -> timedelta:
    return timedelta(seconds=RPC_TIMEOUT_SECONDS)


# ---- state → answer -----------------------------------------------------------------------------


def mask_phone(phone: str | None) -> str | None:
    """``13812341234`` → ``138****1234``; shorter numbers keep only their last two digits."""
    if not phone:
        return phone
    digits = phone.strip()
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}"
    return "*" * max(len(digits) - 2, 1) + digits[-2:]


def detail(session: Session, principal: Principal, loaded: Loaded) -> IssueDetail:
    """The API's answer for one issue, from its state and its events."""
    s, issue = loaded.state, loaded.state.issue
    category = session.get(Category, issue.category)
    phone = issue.reporter.phone
    current = s.levels[-1] if s.levels else None
    return IssueDetail(
        id=issue.issue_id,
        tracking_code=issue.tracking_code,
        category=issue.category,
        category_name=category.name if category else None,
        title=issue.title,
        description=issue.description,
        urgency=issue.urgency.value,
        channel=issue.channel.value,
        status=s.status,
        status_label=labels.STATUS[s.status.value],
        level=current.level if current else s.unit.kind.value,
        unit=UnitOut(code=s.unit.code, name=s.unit.name),
        registered_unit=UnitOut(code=issue.ladder[0].code, name=issue.ladder[0].name),
        deadline=live_deadline(s),
        overdue=s.overdue,
        provisional=current.provisional if current else False,
        reporter=ReporterOut(
            name=issue.reporter.name,
            phone=phone if principal.sees_phone(loaded.scope) else mask_phone(phone),
        ),
        location=issue.location,
        attachments=list(issue.attachments),
        registered_at=issue.registered_at,
        closed_at=s.closed_at,
        levels=[
            LevelOut(
                level=lv.level,
                unit=lv.unit.code,
                unit_name=lv.unit.name,
                entered_at=lv.entered_at,
                deadline=lv.deadline,
                accept_deadline=lv.accept_deadline,
                accepted_at=lv.accepted_at,
                left_at=lv.left_at,
                outcome=lv.outcome.value if lv.outcome else None,
                on_time=lv.on_time,
                extended=lv.extended,
                reason=lv.reason,
            )
            for lv in s.levels
        ],
        events=[
            EventOut(
                seq=e.seq,
                type=e.type.value,
                label=labels.EVENT.get(e.type.value, e.type.value),
                at=e.at,
                actor=ActorOut(
                    user=e.actor.user,
                    role=e.actor.role.value,
                    unit=e.actor.unit_code,
                    department=e.actor.department_code,
                    name=e.actor.name,
                ),
                level=e.level,
                unit=e.unit,
                data=dict(e.data),
            )
            for e in loaded.events
        ],
        departments=[
            DepartmentCallOut(
                department=d.department,
                name=d.name,
                whistled_at=d.whistled_at,
                report_deadline=d.report_deadline,
                reported_at=d.reported_at,
                on_time=d.on_time,
                contribution=d.contribution,
            )
            for d in s.departments
        ],
        resolution=(
            ResolutionOut(
                level=s.resolution.level,
                unit=s.resolution.unit,
                unit_name=s.resolution.unit_name,
                summary=s.resolution.summary,
                at=s.resolution.at,
            )
            if s.resolution
            else None
        ),
        feedback=(
            FeedbackOut(
                solved=s.feedback.solved,
                satisfaction=s.feedback.satisfaction.value,
                comment=s.feedback.comment,
                at=s.feedback.at,
            )
            if s.feedback
            else None
        ),
        source="live" if loaded.live else "record",
    )


# ---- may the caller act? ------------------------------------------------------------------------


def authorise(
    principal: Principal, action: str, loaded: Loaded, callback_roles: Iterable[str] = ()
) -> None:
    """Refuse before Temporal: 409 on a finished issue, 403 outside the caller's jurisdiction.

    The rules are ``domain.lifecycle.rules``, the same the workflow's validators apply.
    """
    scope = loaded.scope
    if not scope.is_open:
        raise ProblemError(409, f"事项{labels.STATUS[scope.status.value]}", slug="rejected")
    why = principal.refusal(action, scope)
    staff = principal.role in STAFF_ROLES
    if action == "feedback" and staff and principal.role.value not in callback_roles:
        why = why or REFUSALS["feedback"]
    if why is not None:
        metrics.ISSUE_ACTIONS.labels(action, "forbidden").inc()
        raise forbidden(why)

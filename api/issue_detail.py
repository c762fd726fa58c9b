"""One issue, read: from the read model for everyone, live from its workflow for supervisors.

One mapper (``detail``) turns an ``IssueState`` into the API's answer. The read model's rows become
an ``IssueState`` first (``state_of_rows``), so a recorded issue and a live one answer in the same
shape by the same code; the audit trail always comes from the read model (the live state keeps
only the events its next record writes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api import answers, metrics
from api.deps import IssueScope, Principal, in_thread
from api.problems import ProblemError, forbidden, not_found
from api.schemas import (
    ActorOut,
    DepartmentCallOut,
    EventOut,
    FeedbackOut,
    InvalidOut,
    IssueDetail,
    LevelOut,
    ReporterOut,
    ResolutionOut,
    UnitOut,
)
from domain import labels
from domain.lifecycle.checks import view_of
from domain.lifecycle.rules import REFUSALS, STAFF_ROLES
from domain.lifecycle.trail import live_deadline, whole_trail
from domain.models import (
    Event,
    InvalidMark,
    IssueState,
    Status,
)
from settings import Settings
from store.issue_state import events_of, state_of_rows
from store.tables import Category, Issue
from workflows.issue import QUERY_STATE, workflow_id

_ISSUE_ID = re.compile(r"^[0-9a-f]{32}$")
LIVE_QUERY_TIMEOUT = timedelta(seconds=10)  # a supervisor waits no longer for a live answer


@dataclass(frozen=True)
class Loaded:
    """An issue the caller may read: its state (from rows or live), events and scope."""

    scope: IssueScope
    state: IssueState
    events: list[Event]
    live: bool = False


# ---- scope: what the rules read -----------------------------------------------------------------


def _notified_at_once(session: Session, category: str) -> frozenset[str]:
    """The category's departments that hear of every new arrival (and so may read the issue)."""
    row = session.get(Category, category)
    if row is None or not row.notify_departments:
        return frozenset()
    return frozenset(row.departments)


def scope_of(session: Session, row: Issue, state: IssueState) -> IssueScope:
    view = view_of(state)
    return IssueScope(
        view=view,
        registered_unit_path=row.registered_unit_path,
        unit_path=row.unit_path,
        notified_departments=_notified_at_once(session, row.category),
    )


def _load_rows(
    session: Session, principal: Principal, issue_id: str, with_events: bool = True
) -> Loaded:
    row = session.get(Issue, issue_id) if _ISSUE_ID.match(issue_id) else None
    if row is None:
        raise not_found("事项不存在")
    state = state_of_rows(session, row)
    scope = scope_of(session, row, state)
    if not principal.can_read(scope):
        raise not_found("事项不存在")
    return Loaded(
        scope=scope, state=state, events=events_of(session, row.id) if with_events else []
    )


async def load(session: Session, principal: Principal, issue_id: str) -> Loaded:
    """One issue the caller may read, from the read model (updates answer after their record,
    so a caller reads its own writes).

    Raises:
        ProblemError: 404 when the issue does not exist or lies outside the caller's scope — the
            two look the same, so existence stays private.
    """
    return await in_thread(_load_rows, session, principal, issue_id)


async def load_live(
    session: Session, temporal: Client, settings: Settings, principal: Principal, issue_id: str
) -> Loaded:
    """The issue straight from its running workflow (the supervisors' live view); a finished
    issue Temporal has let go of answers from the read model.

    A decision caught waiting for its clock is shown finished, as that clock will leave it
    (``answers.settled``): never an escalation without the level it enters.
    """
    # The rows for the scope check only: the events are read after the query, below.
    loaded = await in_thread(_load_rows, session, principal, issue_id, with_events=False)
    handle = temporal.get_workflow_handle(workflow_id(issue_id))
    try:
        state: IssueState = await handle.query(
            QUERY_STATE, result_type=IssueState, rpc_timeout=LIVE_QUERY_TIMEOUT
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return replace(loaded, events=await in_thread(_recorded_events, session, issue_id))
    state = answers.settled(settings, state)
    # Read after the query: every event the answer counts as recorded is committed by then (a
    # read before it may miss those a record wrote meanwhile).
    recorded = await in_thread(_recorded_events, session, issue_id)
    return Loaded(scope=loaded.scope, state=state, events=whole_trail(recorded, state), live=True)


def _recorded_events(session: Session, issue_id: str) -> list[Event]:
    # A session of its own: the request's may still hold the snapshot its first read began.
    with Session(session.get_bind()) as fresh:
        return events_of(fresh, issue_id)


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
        invalid=invalid_out(s.invalid),
        source="live" if loaded.live else "record",
    )


def invalid_out(mark: InvalidMark | None) -> InvalidOut | None:
    if mark is None:
        return None
    return InvalidOut(
        kind=mark.kind.value,
        kind_label=labels.INVALID_KIND[mark.kind.value],
        reason=mark.reason,
        at=mark.at,
        duplicate_of=mark.duplicate_of,
        duplicate_code=mark.duplicate_code,
        review_until=mark.review_until,
    )


# ---- may the caller act? ------------------------------------------------------------------------


def authorise(
    principal: Principal, action: str, loaded: Loaded, callback_roles: Iterable[str] = ()
) -> None:
    """Refuse before Temporal: 409 on a finished issue, 403 outside the caller's jurisdiction.

    The rules are ``domain.lifecycle.rules``, the same the workflow's validators apply.
    """
    scope = loaded.scope
    # An invalid mark is reviewed while its window runs (the workflow checks the window).
    reviewable = action == "review_invalid" and scope.status is Status.INVALID
    if not scope.is_open and not reviewable:
        raise ProblemError(409, f"事项{labels.STATUS[scope.status.value]}", slug="rejected")
    why = principal.refusal(action, scope)
    staff = principal.role in STAFF_ROLES
    if action == "feedback" and staff and principal.role.value not in callback_roles:
        why = why or REFUSALS["feedback"]
    if why is not None:
        metrics.ISSUE_ACTIONS.labels(action, "forbidden").inc()
        raise forbidden(why)

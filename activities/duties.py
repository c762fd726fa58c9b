"""The duty workflow's activities: the calendar's plan, its schedule's state in Temporal, the read
model's facts and a council's agenda (local, read only), and ``record_duty`` (ordinary: the run's
row, its trail and its notices in one transaction, as the issue's recorder writes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from activities.rows import append_trail, jsonable, upsert_newest
from domain.calendar import WorkCalendar
from domain.duties.calendar import plan
from domain.duties.models import (
    DISCLOSURES,
    Agenda,
    AgendaItem,
    AgendaRequest,
    DutyKind,
    DutyOutcome,
    DutySnapshot,
    DutyState,
    Facts,
    FactsRequest,
    Fulfilment,
    Plan,
    PlanRequest,
)
from domain.models import Actor, Role
from store.db import session_scope
from store.deliberation_tables import Deliberation
from store.duty_tables import DisclosurePublication, DutyEventRow, DutyRun
from store.patrols import patrols
from store.tables import Issue, Unit
from store.units_import import ladder, unit_path_of

OPEN_ISSUE = ("pending_accept", "in_progress")
WAITING_DELIBERATION = ("open", "submitted")
AGENDA_LIMIT = 50  # items of each source: a council cannot take more in one sitting


class DutyActivities:
    """Bound to the read model and the calendar for the worker's lifetime."""

    def __init__(self, engine: Engine, calendar: WorkCalendar) -> None:
        self.engine = engine
        self.calendar = calendar

    @activity.defn(name="duty_plan")
    def duty_plan(self, req: PlanRequest) -> Plan:
        return plan(self.calendar, req.kind, req.nominal)

    @activity.defn(name="duty_schedule_running")
    async def duty_schedule_running(self, schedule_id: str) -> bool:
        """Whether the schedule is still there and not paused: an operator's pause in the Temporal
        UI (or a unit removed from the tree) stops the runs it had already started."""
        try:
            described = await activity.client().get_schedule_handle(schedule_id).describe()
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return False
            raise
        return not described.schedule.state.paused

    @activity.defn(name="duty_facts")
    def duty_facts(self, req: FactsRequest) -> Facts:
        with Session(self.engine) as session:
            if req.kind in DISCLOSURES:
                return Facts(published(session, req.unit, req.period))
            return Facts(patrolled(session, req.unit, req.period_start, req.period_end))

    @activity.defn(name="duty_agenda")
    def duty_agenda(self, req: AgendaRequest) -> Agenda:
        with Session(self.engine) as session:
            return gather_agenda(session, req.unit, req.period_start, req.period_end)

    @activity.defn(name="record_duty")
    def record_duty(self, snapshot: DutySnapshot) -> None:
        with session_scope(self.engine) as session:
            write_duty(session, snapshot)


# ---- facts --------------------------------------------------------------------------------------


def published(session: Session, village: str, period: str) -> Fulfilment | None:
    row = session.exec(
        select(DisclosurePublication).where(
            DisclosurePublication.unit_code == village, DisclosurePublication.period == period
        )
    ).first()
    if row is None:
        return None
    by = Actor(user=row.published_by, role=Role.CLERK, unit_code=village)
    return Fulfilment(at=row.published_at, by=by, reference=str(row.id))


def patrolled(session: Session, grid: str, start: datetime, end: datetime) -> Fulfilment | None:
    """The day's first patrol of this grid, checked in or logged from the phone, if any."""
    found = patrols(session, [grid], start, end)
    if not found:
        return None
    first = found[0]
    village = session.exec(select(Unit.parent_code).where(Unit.code == grid)).first()
    by = Actor(user=first.by, role=Role.CLERK, unit_code=village or grid)
    return Fulfilment(at=first.ended_at, by=by, reference=first.reference)


# ---- a council's agenda -------------------------------------------------------------------------


def gather_agenda(session: Session, village: str, since: datetime, until: datetime) -> Agenda:
    """The month's unresolved issues, the hard ones (gone up the ladder or overdue, whenever
    registered), the deliberations waiting at the village, and the topics villagers proposed."""
    path = unit_path_of(session, village)
    mine = col(Issue.registered_unit_path).startswith(path, autoescape=True)
    open_issues = col(Issue.status).in_(OPEN_ISSUE)
    hard = session.exec(
        select(Issue)
        .where(mine, open_issues, (col(Issue.level) != "village") | col(Issue.overdue))
        .order_by(col(Issue.registered_at))
        .limit(AGENDA_LIMIT)
    ).all()
    hard_ids = {i.id for i in hard}
    month = session.exec(
        select(Issue)
        .where(
            mine,
            open_issues,
            col(Issue.registered_at) >= since,
            col(Issue.registered_at) < until,
        )
        .order_by(col(Issue.registered_at))
        .limit(AGENDA_LIMIT)
    ).all()
    waiting = session.exec(
        select(Deliberation)
        .where(
            Deliberation.unit_code == village,
            col(Deliberation.status).in_(WAITING_DELIBERATION),
            col(Deliberation.kind) != DutyKind.VILLAGE_COUNCIL.value,
        )
        .order_by(col(Deliberation.opened_at))
        .limit(AGENDA_LIMIT)
    ).all()
    items = [AgendaItem("hard_issue", i.id, _issue_title(i)) for i in hard]
    items += [AgendaItem("issue", i.id, _issue_title(i)) for i in month if i.id not in hard_ids]
    items += [AgendaItem("deliberation", d.id, d.topic) for d in waiting]
    items += [AgendaItem("topic", ref, title) for ref, title in proposed_topics(session, village)]
    return Agenda(ladder=ladder(session, village), items=items)


def _issue_title(issue: Issue) -> str:
    # The agenda is read out at a public meeting: the approved title if there is one.
    return getattr(issue, "public_title", None) or issue.title


def proposed_topics(session: Session, village: str) -> list[tuple[str, str]]:
    """Topics villagers proposed and no council took up yet (the phone pages' ``topic_proposal``;
    read by name so a read model without the table still gathers the rest)."""
    if not inspect(session.connection()).has_table("topic_proposal"):
        return []
    rows = session.connection().execute(
        text(
            "SELECT id, title FROM topic_proposal WHERE village_code = :v AND taken_up_by IS NULL"
            " ORDER BY proposed_at LIMIT :n"
        ),
        {"v": village, "n": AGENDA_LIMIT},
    )
    return [(str(row.id), str(row.title)) for row in rows]


# ---- the recorder -------------------------------------------------------------------------------


def write_duty(session: Session, snapshot: DutySnapshot) -> None:
    s = snapshot.state
    upsert_newest(session, DutyRun, _row(session, s))
    events = [
        {
            "duty_id": s.duty_id,
            "seq": e.seq,
            "type": e.type.value,
            "at": e.at,
            "data": jsonable(e.data),
        }
        for e in s.events
        if e.seq >= snapshot.from_seq
    ]
    _take_up_topics(session, s)
    append_trail(session, DutyEventRow, "duty_id", events, s.outbox)


def _row(session: Session, s: DutyState) -> dict[str, Any]:
    unit = s.start.unit
    p, a = s.plan, s.agenda
    return {
        "id": s.duty_id,
        "kind": s.kind.value,
        "unit_code": unit.code,
        "unit_path": unit_path_of(session, unit.code),
        "schedule_id": s.start.schedule_id,
        "period": p.period if p else None,
        "nominal_at": s.nominal,
        "due_at": p.due if p else None,
        "moved_from": p.moved_from if p else None,
        "status": s.status.value,
        "outcome": s.outcome.value if s.outcome else None,
        "on_time": _on_time(s.outcome),
        "fulfilled_at": s.fulfilment.at if s.fulfilment else None,
        "closed_at": s.closed_at,
        "reminders": s.reminders,
        "deliberation_id": s.deliberation_id,
        "document_id": s.report.document_id if s.report else None,
        "agenda": [{"source": i.source, "ref": i.ref, "title": i.title} for i in a.items]
        if a
        else [],
        "updated_at": s.closed_at or (s.events[-1].at if s.events else s.nominal),
        "last_seq": s.next_seq - 1,
    }


def _on_time(outcome: DutyOutcome | None) -> bool | None:
    if outcome in (DutyOutcome.HELD, DutyOutcome.ON_TIME):
        return True
    if outcome in (DutyOutcome.LATE, DutyOutcome.MISSED):
        return False
    return None


def _take_up_topics(session: Session, s: DutyState) -> None:
    """The topics a council opened with are taken up by its deliberation (not gathered again)."""
    if s.deliberation_id is None or s.agenda is None or s.outcome is None:
        return
    refs = [int(i.ref) for i in s.agenda.items if i.source == "topic" and i.ref.isdigit()]
    if refs and inspect(session.connection()).has_table("topic_proposal"):
        session.connection().execute(
            text(
                "UPDATE topic_proposal SET taken_up_by = :d WHERE id = :i AND taken_up_by IS NULL"
            ),
            [{"d": s.deliberation_id, "i": ref} for ref in refs],
        )

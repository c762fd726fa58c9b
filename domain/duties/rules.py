"""A duty's rules: what each step decides, pure and synchronous (the workflow shell only calls
them). A step that needs the calendar, the read model or Temporal leaves ``awaiting`` set; the run
loop performs it and hands the answer to ``complete``.

The course of a run: check its schedule is running (when a schedule started it) → plan (period and
the working-day-adjusted due instant) → wait → check the schedule again → act by kind: a council
gathers its agenda and opens a deliberation; a meeting sends its report; a disclosure or a patrol
is looked up, and if not fulfilled the parent unit is alerted and the unit reminded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.duties.models import (
    DUTY_LABELS,
    FULFILLED_BY_UNIT,
    MEETINGS,
    Agenda,
    DutyEvent,
    DutyEventType,
    DutyKind,
    DutyOutcome,
    DutyState,
    DutyStatus,
    Facts,
    Fulfilment,
    Need,
    Plan,
    Report,
)
from domain.models import Deadline, Notice


class NotNow(ValueError):
    """A fulfilment that this run cannot take (not its kind, or the run is over)."""


def begin(s: DutyState, nominal: datetime) -> None:
    s.nominal = nominal
    _ask(s, Need.SCHEDULE if s.start.schedule_id else Need.PLAN, nominal)


def next_due(s: DutyState) -> datetime | None:
    """When the run loop wakes by itself next; None while it waits for an answer or is over."""
    if s.awaiting is not None:
        return None
    if s.status is DutyStatus.WAITING and s.plan is not None:
        return s.plan.due
    if s.status is DutyStatus.OVERDUE:
        return s.next_reminder
    return None


def fire(s: DutyState, now: datetime) -> None:
    """The instant ``next_due`` named has come."""
    if s.status is DutyStatus.WAITING:
        # An operator may have paused the schedule while this run waited: look again.
        _ask(s, Need.SCHEDULE, now) if s.start.schedule_id else _act(s, now)
    elif s.status is DutyStatus.OVERDUE:
        _ask(s, Need.FACTS, now)


def check_fulfilment(s: DutyState, f: Fulfilment) -> None:
    if s.kind not in FULFILLED_BY_UNIT:
        raise NotNow(f"{DUTY_LABELS[s.kind]}不由单位报告完成")
    if not s.live or s.fulfilment is not None:
        raise NotNow("本期职责已结束")


def fulfil(s: DutyState, f: Fulfilment) -> None:
    """The unit published or checked in (a signal, or the read model's answer at the due time)."""
    check_fulfilment(s, f)
    s.fulfilment = f
    late = s.status is DutyStatus.OVERDUE or (s.plan is not None and f.at > s.plan.due)
    _event(s, DutyEventType.FULFILLED, f.at, by=f.by.user, reference=f.reference)
    _done(s, DutyOutcome.LATE if late else DutyOutcome.ON_TIME, f.at)


# ---- answers to what the run loop was asked -----------------------------------------------------


def complete(s: DutyState, result: Any, now: datetime) -> None:
    """Finish the step waiting in ``s.awaiting`` with the answer the run loop got for it."""
    need = s.awaiting
    assert need is not None
    s.awaiting = None
    if need is Need.SCHEDULE:
        _schedule_checked(s, bool(result), now)
    elif need is Need.PLAN:
        _planned(s, result, now)
    elif need is Need.FACTS:
        _facts(s, result, now)
    elif need is Need.AGENDA:
        _agenda(s, result, now)
    elif need is Need.COUNCIL:
        _council_opened(s, bool(result), now)
    elif need is Need.REPORT:
        _reported(s, result, now)
    else:
        _reminder_set(s, result)


def _schedule_checked(s: DutyState, running: bool, now: datetime) -> None:
    if not running:
        _event(s, DutyEventType.SKIPPED, now, schedule=s.start.schedule_id)
        s.status, s.outcome, s.closed_at = DutyStatus.SKIPPED, DutyOutcome.SKIPPED, now
    elif s.plan is None:
        _ask(s, Need.PLAN, now)
    else:
        _act(s, now)


def _planned(s: DutyState, plan: Plan, now: datetime) -> None:
    s.plan = plan
    s.status = DutyStatus.WAITING
    data: dict[str, Any] = {"period": plan.period, "due": plan.due}
    if plan.moved_from is not None:
        data["moved_from"] = plan.moved_from
    _event(s, DutyEventType.PLANNED, now, **data)


def _act(s: DutyState, now: datetime) -> None:
    if s.kind is DutyKind.VILLAGE_COUNCIL:
        _ask(s, Need.AGENDA, now)
    elif s.kind in MEETINGS:
        _ask(s, Need.REPORT, now)
    else:
        _ask(s, Need.FACTS, now)


def _facts(s: DutyState, facts: Facts, now: datetime) -> None:
    if facts.fulfilled is not None:
        fulfil(s, facts.fulfilled)
        return
    plan, unit = s.plan, s.start.unit
    assert plan is not None
    label = DUTY_LABELS[s.kind]
    parent = [s.start.parent.code] if s.start.parent else []
    if s.kind is DutyKind.PATROL:
        # The morning after: the village hears that its grid went unpatrolled.
        seq = _event(s, DutyEventType.MISSED, now, period=plan.period)
        _notice(s, seq, "duty_missed", f"{unit.name}{plan.period}未巡查打卡", units=parent)
        _done(s, DutyOutcome.MISSED, now)
    elif s.status is DutyStatus.WAITING:
        s.status = DutyStatus.OVERDUE
        seq = _event(s, DutyEventType.MISSED, now, period=plan.period, due=plan.due)
        title = f"{unit.name}未按期{label}（{plan.period}）"
        _notice(s, seq, "duty_missed", title, units=[*parent, unit.code], supervisors_of=parent)
        _ask(s, Need.REMINDER, now)
    else:
        s.reminders += 1
        seq = _event(s, DutyEventType.REMINDED, now, period=plan.period, count=s.reminders)
        title = f"督促{label}（{plan.period}，第{s.reminders}次提醒）：{unit.name}"
        _notice(s, seq, "duty_reminder", title, units=[unit.code, *parent])
        _ask(s, Need.REMINDER, now)


def _agenda(s: DutyState, agenda: Agenda, now: datetime) -> None:
    plan = s.plan
    assert plan is not None
    s.agenda = agenda
    s.deliberation_id = f"council-{s.start.unit.code}-{plan.period}"
    _ask(s, Need.COUNCIL, now)


def _council_opened(s: DutyState, started: bool, now: datetime) -> None:
    plan, agenda = s.plan, s.agenda
    assert plan is not None and agenda is not None
    seq = _event(
        s,
        DutyEventType.COUNCIL_OPENED,
        now,
        period=plan.period,
        deliberation_id=s.deliberation_id,
        items=[{"source": i.source, "ref": i.ref, "title": i.title} for i in agenda.items],
        already_open=not started,
    )
    title = f"{plan.period}村民议事会已召集，议题{len(agenda.items)}项：{s.start.unit.name}"
    _notice(s, seq, "duty_council", title, units=[s.start.unit.code])
    _done(s, DutyOutcome.HELD, now)


def _reported(s: DutyState, report: Report, now: datetime) -> None:
    s.report = report
    plan = s.plan
    assert plan is not None
    seq = _event(
        s,
        DutyEventType.REPORT_SENT,
        now,
        period=plan.period,
        document_id=report.document_id,
        hard_matters=report.hard_matters,
        overdue_decisions=report.overdue_decisions,
    )
    _notice(s, seq, "duty_report", report.title, units=report.recipients or [s.start.unit.code])
    _done(s, DutyOutcome.HELD, now)


def _reminder_set(s: DutyState, reminder: Deadline) -> None:
    s.next_reminder = reminder.at


# ---- the trail ----------------------------------------------------------------------------------


def _ask(s: DutyState, need: Need, now: datetime) -> None:
    s.awaiting, s.awaiting_since = need, now


def _done(s: DutyState, outcome: DutyOutcome, now: datetime) -> None:
    s.status, s.outcome, s.closed_at = DutyStatus.DONE, outcome, now
    s.next_reminder = None
    _event(s, DutyEventType.DONE, now, outcome=outcome.value)


def _event(s: DutyState, type_: DutyEventType, at: datetime, **data: Any) -> int:
    seq = s.next_seq
    s.next_seq += 1
    s.events.append(DutyEvent(seq, type_, at, data))
    return seq


def _notice(
    s: DutyState,
    seq: int,
    kind: str,
    title: str,
    *,
    units: list[str],
    supervisors_of: list[str] | None = None,
) -> None:
    s.outbox.append(
        Notice(
            issue_id=s.duty_id,
            seq=seq,
            kind=kind,
            title=title,
            text=title,
            units=list(dict.fromkeys(units)),
            supervisors_of=list(supervisors_of or []),
            level=s.start.unit.kind.value,
            deadline=s.plan.due if s.plan else None,
            subject="duty",
        )
    )

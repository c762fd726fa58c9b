"""The effects a duty's run loop performs, one place each: the answers its steps wait for (local
activities for reads and the calendar, an ordinary one for the report it writes, a child workflow
for a council's deliberation) and the one ``record_duty`` (read model and outbox together)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain.deliberation.models import (
        DeliberationStart,
        Kind,
        NewDeliberation,
        Participant,
    )
    from domain.duties import rules
    from domain.duties.agenda import agenda_text
    from domain.duties.models import (
        Agenda,
        AgendaRequest,
        DutySnapshot,
        DutyState,
        Facts,
        FactsRequest,
        Need,
        Plan,
        PlanRequest,
        Report,
        ReportRequest,
    )
    from domain.models import SYSTEM_ACTOR, Deadline, DeadlineRequest, Term
    from workflows import effects
    from workflows.deliberation import WORKFLOW_NAME as DELIBERATION
    from workflows.deliberation import workflow_id as deliberation_workflow_id
    from workflows.effects import ACTIVITY_TIMEOUT, PATIENT

# Reminders of a missed duty go out each working day at the start of office hours.
EVERY_WORKING_DAY = Term(working_days=1)


async def perform(s: DutyState) -> None:
    """Answer what ``s.awaiting`` asks for and hand the answer to the rules."""
    need = s.awaiting
    assert need is not None
    result: Any
    if need is Need.COUNCIL:
        result = await _open_council(s)
    elif need is Need.REPORT:
        result = await workflow.execute_activity(
            "duty_report",
            _report_request(s),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=PATIENT,
            result_type=Report,
        )
    else:
        result = await effects.ask(*_local_request(s, need))
    rules.complete(s, result, workflow.now())


def _local_request(s: DutyState, need: Need) -> tuple[str, Any, type[Any]]:
    if need is Need.SCHEDULE:
        return "duty_schedule_running", s.start.schedule_id, bool
    if need is Need.PLAN:
        assert s.nominal is not None
        return "duty_plan", PlanRequest(s.kind, s.nominal), Plan
    if need is Need.REMINDER:
        return "next_reminder", DeadlineRequest(workflow.now(), EVERY_WORKING_DAY), Deadline
    plan = s.plan
    assert plan is not None
    if need is Need.AGENDA:
        return "duty_agenda", AgendaRequest(s.start.unit.code, plan.period_start, plan.due), Agenda
    request = FactsRequest(
        s.kind, s.start.unit.code, plan.period, plan.period_start, plan.period_end
    )
    return "duty_facts", request, Facts


def _report_request(s: DutyState) -> ReportRequest:
    plan = s.plan
    assert plan is not None
    return ReportRequest(
        s.duty_id, s.kind, s.start.unit.code, plan.period, plan.period_start, plan.due
    )


async def _open_council(s: DutyState) -> bool:
    """Start the month's ``village_council`` deliberation; False if it was already open (a rerun
    of the same month's duty opens nothing twice: the deliberation's id is the month's)."""
    plan, agenda = s.plan, s.agenda
    assert plan is not None and agenda is not None and s.deliberation_id is not None
    village = s.start.unit
    d = NewDeliberation(
        deliberation_id=s.deliberation_id,
        topic=f"{village.name}{plan.period}村民议事会",
        kind=Kind.VILLAGE_COUNCIL,
        ladder=agenda.ladder,
        opened_by=SYSTEM_ACTOR,
        opened_at=workflow.now(),
        description=agenda_text(agenda),
        participants=[Participant("villager_representative", unit=village.code)],
        meeting_at=plan.due,
    )
    try:
        await workflow.start_child_workflow(
            DELIBERATION,
            DeliberationStart(d=d),
            id=deliberation_workflow_id(d.deliberation_id),
            # The deliberation lives its own life for weeks; this run ends now.
            parent_close_policy=ParentClosePolicy.ABANDON,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def record(s: DutyState) -> None:
    await effects.record(s, "record_duty", DutySnapshot)

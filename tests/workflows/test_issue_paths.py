"""Every path of an issue's life under the default policy, in working days, time-skipped.

Each scenario registers on a Monday 09:00 of a week without statutory holidays (the server's clock
is the real one, so the week is found, not fixed) and states its deadlines worked out by hand.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session
from temporalio.api.enums.v1 import EventType as EventType_
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from domain.models import (
    Accept,
    ActionResult,
    Actor,
    Escalate,
    EventType,
    ExtensionDecision,
    ExtensionRequest,
    Feedback,
    Outcome,
    Progress,
    Report,
    Resolve,
    Role,
    Satisfaction,
    Status,
    Supervise,
    Term,
    Transfer,
    Urgency,
    Whistle,
    Withdraw,
)
from domain.payloads import DATA_CONVERTER
from store.units_import import ladder
from tests.workflows.conftest import (
    COUNTY,
    TOWNSHIP,
    TZ,
    VILLAGE,
    Harness,
    calendar_with,
    clerk,
    leader,
    local,
    quiet_monday,
    settled_read_model,
)
from tests.workflows.standalone import run_histories, running_harness
from workflows.issue import IssueWorkflow

COUNTY_CLERK = Actor(user="county-clerk", role=Role.CLERK, unit_code=COUNTY)
SUPERVISOR = Actor(user="county-supervisor", role=Role.SUPERVISOR, unit_code=COUNTY)
CITIZEN = Actor(user="citizen", role=Role.CITIZEN)
OTHER_VILLAGE = "611025101202"  # a village of 回龙镇


def types(state: Any) -> list[EventType]:
    return [e.type for e in state.events]


async def monday_nine(h: Harness) -> Any:
    day = quiet_monday(await h.now())
    await h.sleep_until(local(day, 9))
    return day


def d(day: Any, n: int) -> Any:
    return day + timedelta(days=n)


def minute(at: datetime) -> datetime:
    """Timers fire a few milliseconds after registration's own instant: compare to the minute."""
    return at.astimezone(TZ).replace(second=0, microsecond=0)


async def test_resolved_at_village_then_satisfied_closes_with_village_resolution(
    make_harness: Any,
) -> None:
    async with make_harness() as h:
        day = await monday_nine(h)
        issue = await h.register()
        state = await h.state(issue)
        assert state.status is Status.PENDING_ACCEPT
        # 3 working days, the registration day not counted: Thursday 18:00.
        assert state.current.deadline == local(d(day, 3), 18)
        assert state.current.accept_deadline == local(d(day, 1), 18)
        await h.act(issue, "accept", Accept(actor=clerk(VILLAGE)))
        await h.act(issue, "progress", Progress(actor=clerk(VILLAGE), note="已联系保洁员"))
        result = await h.act(issue, "resolve", Resolve(actor=clerk(VILLAGE), summary="已清运"))
        assert result.status is Status.AWAITING_FEEDBACK
        await h.act(
            issue,
            "feedback",
            Feedback(actor=CITIZEN, solved=True, satisfaction=Satisfaction.SATISFIED),
        )
        state = await h.state(issue)
        assert state.status is Status.CLOSED
        assert state.resolution is not None and state.resolution.level == "village"
        assert [lv.outcome for lv in state.levels] == [Outcome.RESOLVED]
        assert state.levels[0].on_time is True and state.levels[0].accepted_on_time is True
        assert types(state)[-1] is EventType.CLOSED
        await settled_read_model(h, issue)


async def test_escalated_on_request_and_resolved_at_township(make_harness: Any) -> None:
    async with make_harness() as h:
        day = await monday_nine(h)
        issue = await h.register()
        await h.act(issue, "escalate", Escalate(actor=clerk(VILLAGE), reason="涉及跨村道路"))
        state = await h.state(issue)
        assert [lv.level for lv in state.levels] == ["village", "township"]
        assert state.levels[0].outcome is Outcome.ESCALATED_ON_REQUEST
        assert state.unit.code == TOWNSHIP
        # Township: 5 working days from Monday: Monday next week 18:00.
        assert state.current.deadline == local(d(day, 7), 18)
        await h.act(issue, "accept", Accept(actor=leader(TOWNSHIP)))
        await h.act(issue, "resolve", Resolve(actor=leader(TOWNSHIP), summary="镇上协调修复"))
        await h.act(
            issue,
            "feedback",
            Feedback(actor=CITIZEN, solved=True, satisfaction=Satisfaction.BASICALLY_SATISFIED),
        )
        state = await h.state(issue)
        assert state.status is Status.CLOSED
        assert state.resolution is not None and state.resolution.level == "township"
        await settled_read_model(h, issue)


async def test_escalated_on_timeout_twice_then_overdue_with_daily_supervision(
    make_harness: Any,
) -> None:
    async with make_harness() as h:
        day = await monday_nine(h)
        issue = await h.register()
        # Warnings at 50% and 75% of Monday 09:00 → Thursday 18:00 (81 hours).
        await h.sleep_until(local(d(day, 3), 17))
        state = await h.state(issue)
        warnings = [e for e in state.events if e.type is EventType.WARNING]
        assert [minute(w.at) for w in warnings] == [
            local(d(day, 2), 1, 30),
            local(d(day, 2), 21, 45),
        ]
        assert EventType.ACCEPT_OVERDUE in types(state)
        await h.sleep_until(local(d(day, 3), 18, 1))
        state = await h.state(issue)
        assert state.unit.code == TOWNSHIP
        assert state.levels[0].outcome is Outcome.ESCALATED_ON_TIMEOUT
        assert state.levels[0].on_time is False
        # Township: 5 working days after Thursday: next Thursday 18:00.
        assert state.current.deadline == local(d(day, 10), 18)
        await h.sleep_until(local(d(day, 10), 18, 1))
        state = await h.state(issue)
        assert state.unit.code == COUNTY
        assert state.levels[1].outcome is Outcome.ESCALATED_ON_TIMEOUT
        # County: 7 working days after Thursday: the Monday after next, 18:00.
        assert state.current.deadline == local(d(day, 21), 18)
        await h.sleep_until(local(d(day, 25), 10))
        state = await h.state(issue)
        assert state.overdue is True
        assert state.status is Status.PENDING_ACCEPT  # still at the county, never above it
        reminders = [e.at for e in state.events if e.type is EventType.OVERDUE_REMINDER]
        assert [minute(r) for r in reminders] == [local(d(day, n), 9) for n in (22, 23, 24, 25)]
        # Someone at the county finally acts: reminders stop.
        await h.act(issue, "accept", Accept(actor=COUNTY_CLERK))
        await h.act(issue, "resolve", Resolve(actor=COUNTY_CLERK, summary="县里协调解决"))
        await h.sleep_until(local(d(day, 29), 10))
        state = await h.state(issue)
        assert len([e for e in state.events if e.type is EventType.OVERDUE_REMINDER]) == 4
        assert state.resolution is not None and state.resolution.level == "county"
        await settled_read_model(h, issue)


async def test_level_spanning_a_holiday_and_a_make_up_workday(make_harness: Any) -> None:
    async with make_harness() as probe:
        day = quiet_monday(await probe.now())
    # Wednesday off (a holiday), Saturday worked (调休).
    calendar = calendar_with(days_off=[d(day, 2)], workdays=[d(day, 5)])
    async with make_harness(calendar=calendar) as h:
        await h.sleep_until(local(day, 9))
        issue = await h.register()
        state = await h.state(issue)
        # Tue (1), Wed off, Thu (2), Fri (3): Friday 18:00, a day later than usual.
        assert state.current.deadline == local(d(day, 4), 18)
        assert state.current.provisional is False
        await h.sleep_until(local(d(day, 4), 18, 1))
        state = await h.state(issue)
        assert state.unit.code == TOWNSHIP
        # Sat make-up (1), Mon (2), Tue (3), Wed (4), Thu (5): Thursday 18:00, not Friday.
        assert state.current.deadline == local(d(day, 10), 18)


async def test_extension_granted_moves_the_deadline_and_is_once_per_level(
    make_harness: Any,
) -> None:
    async with make_harness() as h:
        day = await monday_nine(h)
        issue = await h.register()
        await h.act(issue, "accept", Accept(actor=clerk(VILLAGE)))
        await h.act(
            issue,
            "extension",
            ExtensionRequest(actor=clerk(VILLAGE), term=Term(working_days=2), reason="等待材料"),
        )
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await h.act(
                issue, "extension_decision", ExtensionDecision(actor=clerk(VILLAGE), approve=True)
            )
        assert "负责人审批" in str(refused.value.cause)
        await h.act(
            issue,
            "extension_decision",
            ExtensionDecision(actor=leader(TOWNSHIP), approve=True, term=Term(working_days=1)),
        )
        state = await h.state(issue)
        # Thursday 18:00 + 1 working day = Friday 18:00.
        assert state.current.deadline == local(d(day, 4), 18)
        assert state.current.extended is True
        with pytest.raises(WorkflowUpdateFailedError) as again:
            await h.act(
                issue,
                "extension",
                ExtensionRequest(actor=clerk(VILLAGE), term=Term(working_days=1), reason="再延"),
            )
        assert "限一次" in str(again.value.cause)
        await h.sleep_until(local(d(day, 3), 18, 30))
        assert (await h.state(issue)).unit.code == VILLAGE  # the old deadline passed harmlessly
        await h.sleep_until(local(d(day, 4), 18, 1))
        assert (await h.state(issue)).unit.code == TOWNSHIP
        await settled_read_model(h, issue)


async def test_extension_refused_keeps_the_deadline_and_limits_are_enforced(
    make_harness: Any,
) -> None:
    async with make_harness() as h:
        day = await monday_nine(h)
        issue = await h.register()
        await h.act(issue, "accept", Accept(actor=clerk(VILLAGE)))
        with pytest.raises(WorkflowUpdateFailedError) as too_long:
            await h.act(
                issue,
                "extension",
                ExtensionRequest(actor=clerk(VILLAGE), term=Term(working_days=4), reason="长"),
            )
        assert "不超过本层级期限" in str(too_long.value.cause)
        await h.act(
            issue,
            "extension",
            ExtensionRequest(actor=clerk(VILLAGE), term=Term(working_days=3), reason="等待"),
        )
        await h.act(
            issue,
            "extension_decision",
            ExtensionDecision(actor=leader(TOWNSHIP), approve=False, comment="请按期办结"),
        )
        state = await h.state(issue)
        assert state.current.deadline == local(d(day, 3), 18)
        assert state.current.extended is False
        decided = [e for e in state.events if e.type is EventType.EXTENSION_DECIDED]
        assert decided[-1].data["approve"] is False
        urgent = await h.register(urgency=Urgency.URGENT)
        await h.act(urgent, "accept", Accept(actor=clerk(VILLAGE)))
        with pytest.raises(WorkflowUpdateFailedError) as no_urgent:
            await h.act(
                urgent,
                "extension",
                ExtensionRequest(actor=clerk(VILLAGE), term=Term(seconds=3600), reason="紧急"),
            )
        assert "不允许延期" in str(no_urgent.value.cause)


async def test_transfer_within_two_working_days_then_only_the_parent_decides(
    make_harness: Any,
) -> None:
    async with make_harness() as h:
        day = await monday_nine(h)
        issue = await h.register()
        with Session(h.engine) as session:
            target = ladder(session, OTHER_VILLAGE)
            sibling = ladder(session, "611025001002")
        await h.act(
            issue, "transfer", Transfer(actor=clerk(VILLAGE), ladder=target, reason="属回龙镇")
        )
        state = await h.state(issue)
        assert state.levels[0].outcome is Outcome.TRANSFERRED
        assert state.unit.code == OTHER_VILLAGE and state.current.level == "village"
        assert [u.code for u in state.ladder] == [OTHER_VILLAGE, "611025101", COUNTY]
        # The clock starts again at the new unit: 3 working days from Monday.
        assert state.current.deadline == local(d(day, 3), 18)
        second = await h.register()
        await h.sleep_until(local(d(day, 2), 18, 30))  # past Wednesday 18:00 (2 working days)
        with pytest.raises(WorkflowUpdateFailedError) as late:
            await h.act(
                second, "transfer", Transfer(actor=clerk(VILLAGE), ladder=sibling, reason="错派")
            )
        assert "转派时限" in str(late.value.cause)
        await h.act(
            second, "transfer", Transfer(actor=leader(TOWNSHIP), ladder=sibling, reason="镇里改派")
        )
        assert (await h.state(second)).unit.code == "611025001002"
        await settled_read_model(h, issue)


async def test_whistle_with_one_department_reporting_late(make_harness: Any) -> None:
    async with make_harness() as h:
        day = await monday_nine(h)
        issue = await h.register()
        await h.act(issue, "accept", Accept(actor=clerk(VILLAGE)))
        await h.act(
            issue,
            "whistle",
            Whistle(
                actor=clerk(VILLAGE),
                departments=["zhenan-zhujian", "zhenan-shuili"],
                department_names={"zhenan-zhujian": "住建", "zhenan-shuili": "水利"},
                reason="需要专业力量",
            ),
        )
        dept = Actor(
            user="dept-zhenan-zhujian", role=Role.DEPARTMENT, department_code="zhenan-zhujian"
        )
        await h.sleep_until(local(day, 9, 10))
        await h.act(issue, "report", Report(actor=dept, contribution="派员现场查看"))
        await h.sleep_until(local(day, 9, 45))  # 30 minutes have passed for 水利
        state = await h.state(issue)
        overdue = [e for e in state.events if e.type is EventType.REPORT_OVERDUE]
        assert [e.data["department"] for e in overdue] == ["zhenan-shuili"]
        late = Actor(
            user="dept-zhenan-shuili", role=Role.DEPARTMENT, department_code="zhenan-shuili"
        )
        await h.act(issue, "report", Report(actor=late, contribution="补报到"))
        state = await h.state(issue)
        calls = {c.department: c for c in state.departments}
        assert calls["zhenan-zhujian"].on_time is True
        assert calls["zhenan-shuili"].on_time is False
        with pytest.raises(WorkflowUpdateFailedError):
            await h.act(issue, "report", Report(actor=late, contribution="重复"))
        await settled_read_model(h, issue)


async def test_unsatisfied_feedback_reopens_once_then_escalates(make_harness: Any) -> None:
    async with make_harness() as h:
        await monday_nine(h)
        issue = await h.register()
        unsatisfied = Feedback(actor=CITIZEN, solved=False, satisfaction=Satisfaction.UNSATISFIED)
        await h.act(issue, "accept", Accept(actor=clerk(VILLAGE)))
        await h.act(issue, "resolve", Resolve(actor=clerk(VILLAGE), summary="已处理"))
        await h.act(issue, "feedback", unsatisfied)
        state = await h.state(issue)
        assert state.status is Status.PENDING_ACCEPT
        assert [(lv.unit.code, lv.reason) for lv in state.levels] == [
            (VILLAGE, "registered"),
            (VILLAGE, "reopened"),
        ]
        await h.act(issue, "accept", Accept(actor=clerk(VILLAGE)))
        await h.act(issue, "resolve", Resolve(actor=clerk(VILLAGE), summary="再次处理"))
        await h.act(issue, "feedback", unsatisfied)
        state = await h.state(issue)
        assert state.unit.code == TOWNSHIP
        assert state.current.reason == "escalated"
        await h.act(issue, "accept", Accept(actor=leader(TOWNSHIP)))
        await h.act(issue, "resolve", Resolve(actor=leader(TOWNSHIP), summary="镇里解决"))
        await h.act(
            issue,
            "feedback",
            Feedback(actor=CITIZEN, solved=True, satisfaction=Satisfaction.SATISFIED),
        )
        state = await h.state(issue)
        assert state.status is Status.CLOSED
        assert state.resolution is not None and state.resolution.level == "township"
        assert len(state.feedback_history) == 3
        await settled_read_model(h, issue)


async def test_no_feedback_closes_when_the_window_ends(make_harness: Any) -> None:
    async with make_harness() as h:
        day = await monday_nine(h)
        issue = await h.register()
        await h.act(issue, "accept", Accept(actor=clerk(VILLAGE)))
        result = await h.act(issue, "resolve", Resolve(actor=clerk(VILLAGE), summary="已处理"))
        # Feedback window: 5 working days after Monday: next Monday 18:00.
        assert result.deadline == local(d(day, 7), 18)
        await h.sleep_until(local(d(day, 7), 18, 1))
        state = await h.state(issue)
        assert state.status is Status.CLOSED
        assert state.feedback is None
        assert types(state)[-2:] == [EventType.FEEDBACK_EXPIRED, EventType.CLOSED]
        await settled_read_model(h, issue)


async def test_withdrawal_before_resolve(make_harness: Any) -> None:
    async with make_harness() as h:
        await monday_nine(h)
        issue = await h.register()
        await h.act(issue, "withdraw", Withdraw(actor=CITIZEN, reason="已自行解决"))
        state = await h.state(issue)
        assert state.status is Status.WITHDRAWN
        assert state.levels[0].outcome is Outcome.WITHDRAWN
        # The run has ended, so the server itself refuses any further update.
        with pytest.raises((WorkflowUpdateFailedError, RPCError)):
            await h.act(issue, "accept", Accept(actor=clerk(VILLAGE)))
        await settled_read_model(h, issue)


async def test_supervision_is_recorded_and_only_supervisors_send_it(make_harness: Any) -> None:
    async with make_harness() as h:
        await monday_nine(h)
        issue = await h.register()
        await h.act(issue, "supervise", Supervise(actor=SUPERVISOR, note="请加快办理"))
        with pytest.raises(WorkflowUpdateFailedError):
            await h.act(issue, "supervise", Supervise(actor=clerk(VILLAGE), note="自己督办自己"))
        state = await h.state(issue)
        assert [e.actor.user for e in state.events if e.type is EventType.SUPERVISED] == [
            "county-supervisor"
        ]


async def test_validators_reject_before_history_is_written(make_harness: Any) -> None:
    async with make_harness() as h:
        await monday_nine(h)
        issue = await h.register()
        before = await accepted_updates(issue)
        refusals = [
            ("accept", Accept(actor=clerk(OTHER_VILLAGE)), "只有该单位可以办理"),
            ("progress", Progress(actor=clerk(VILLAGE), note="x"), "请先签收"),
            ("resolve", Resolve(actor=clerk(VILLAGE), summary="x"), "请先签收"),
            ("escalate", Escalate(actor=clerk(VILLAGE), reason=" "), "reason"),
            ("feedback", Feedback(actor=CITIZEN), "尚未办结"),
            ("extension_decision", ExtensionDecision(actor=leader(TOWNSHIP)), "没有待审批"),
        ]
        for update, action, reason in refusals:
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await h.act(issue, update, action)
            assert reason in str(refused.value.cause), update
        # Timers and notifications keep writing history; no refused update may.
        assert await accepted_updates(issue) == before


async def accepted_updates(handle: Any) -> int:
    history = await handle.fetch_history()
    return sum(
        1
        for e in history.events
        if e.event_type == EventType_.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    )


async def test_a_retried_request_applies_once(make_harness: Any) -> None:
    async with make_harness() as h:
        await monday_nine(h)
        issue = await h.register()
        accept = Accept(actor=clerk(VILLAGE), request_id="req-1")
        first = await h.act(issue, "accept", accept)
        # The same update id: the server answers from its own record.
        assert await h.act(issue, "accept", accept) == first
        # A new update id carrying the same request id (a client retry after the server forgot
        # the update, or across continue-as-new): the workflow itself recognises it.
        live = h.env.client.get_workflow_handle(issue.id)
        again = await live.execute_update("accept", accept, result_type=ActionResult)
        assert (first.duplicate, again.duplicate) == (False, True)
        note = Progress(actor=clerk(VILLAGE), note="进展", request_id="req-2")
        await h.act(issue, "progress", note)
        await h.act(issue, "progress", note)
        state = await h.state(issue)
        assert types(state).count(EventType.ACCEPTED) == 1
        assert types(state).count(EventType.PROGRESS) == 1


async def test_long_overdue_loop_continues_as_new_without_losing_state(
    make_harness: Any,
) -> None:
    async with make_harness(history_limit=150) as h:
        day = await monday_nine(h)
        issue = await h.register(urgency=Urgency.URGENT)
        first_run = (await issue.describe()).run_id
        # Urgent: 4 h + 8 h + 24 h, then a reminder every working day for three weeks.
        await h.sleep_until(local(d(day, 24), 10))
        live = h.env.client.get_workflow_handle(issue.id)
        assert (await live.describe()).run_id != first_run
        state = await h.state(issue)
        assert state.overdue is True and state.unit.code == COUNTY
        reminders = [e for e in state.events if e.type is EventType.OVERDUE_REMINDER]
        assert len(reminders) >= 15
        assert [e.seq for e in state.events] == list(range(1, state.next_seq))
        await h.act(issue, "accept", Accept(actor=COUNTY_CLERK))
        await h.act(issue, "resolve", Resolve(actor=COUNTY_CLERK, summary="终于解决"))
        await settled_read_model(h, issue)


async def test_actions_carry_across_runs_that_continue_as_new_after_every_step(
    env: WorkflowEnvironment, read_model: Any
) -> None:
    # A run continues as new once nothing waits: no clock being computed, everything recorded,
    # no handler running. With a history limit of one that is after every step; every action
    # must still answer, and the state and the request memory carry over.
    async with running_harness(env, read_model, history_limit=1) as h:
        await monday_nine(h)
        issue = await h.register()
        first = (await h.env.client.get_workflow_handle(issue.id).fetch_history()).events[0]
        await h.act(issue, "accept", Accept(actor=clerk(VILLAGE), request_id="a-1"))
        note = Progress(actor=clerk(VILLAGE), note="已到现场", request_id="p-1")
        await h.act(issue, "progress", note)
        again = await h.act(issue, "progress", note)
        assert again.duplicate, "a retried request is remembered across runs"
        escalate = Escalate(actor=clerk(VILLAGE), reason="超出村级权限")
        result = await h.act(issue, "escalate", escalate)
        assert (result.status, result.unit) == (Status.PENDING_ACCEPT, TOWNSHIP)
        state = await h.state(issue)
        assert [lv.unit.code for lv in state.levels] == [VILLAGE, TOWNSHIP]
        assert types(state).count(EventType.PROGRESS) == 1
        latest = await h.env.client.get_workflow_handle(issue.id).fetch_history()
        assert latest.events[0] != first, "the run should have continued as new"
        await settled_read_model(h, issue)
        runs = await run_histories(h.env, issue)
        assert len(runs) > 2
        for history in runs:
            await Replayer(
                workflows=[IssueWorkflow], data_converter=DATA_CONVERTER
            ).replay_workflow(history)


async def test_the_clocks_count_from_the_workflows_time_not_the_api_machines(
    env: WorkflowEnvironment, read_model: Any
) -> None:
    # The API stamps registered_at with its own clock, which may lag the workflow's (here by two
    # days, as after the test server skipped time). The first level's clocks count from the
    # workflow's time: counted from registered_at, every clock would be past and fire at once.
    async with running_harness(env, read_model) as h:
        await monday_nine(h)
        now = await h.now()
        issue = await h.register(registered_at=now - timedelta(days=2))
        state = await h.state(issue)
        assert state.status is Status.PENDING_ACCEPT and state.unit.code == VILLAGE
        assert state.current.entered_at >= now
        assert types(state) == [EventType.REGISTERED, EventType.LEVEL_ENTERED]

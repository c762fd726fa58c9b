"""Every path of DeliberationWorkflow on the time-skipping server under the default policy, with a
real worker and the read model on SQLite and PostgreSQL: consensus to implementation (warnings,
overdue with daily 督办 reminders, evaluation, closed), the cap on rounds and adopt, refer_up by
hand and by timeout up to the county where a missed decision is overdue, a quorum refusal that
changes nothing, a poll's ballots, withdraw."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select
from temporalio.client import WorkflowUpdateFailedError

from domain.deliberation.models import (
    Attendance,
    Ballot,
    CloseRound,
    Complete,
    Decide,
    DecisionSpec,
    DStatus,
    DWithdraw,
    Evaluate,
    Kind,
    Opinion,
    ReportProgress,
    RoundOutcome,
    Verdict,
    Votes,
)
from domain.models import Role, Satisfaction
from store.deliberation_tables import DeliberationRound
from store.tables import OutboxNotice
from tests.workflows.conftest import COUNTY, TOWNSHIP, VILLAGE
from tests.workflows.deliberation_desk import Desk, staff

V, VL = staff(VILLAGE), staff(VILLAGE, Role.LEADER)
T, TL = staff(TOWNSHIP), staff(TOWNSHIP, Role.LEADER)
C, CL = staff(COUNTY), staff(COUNTY, Role.LEADER)
DAY = timedelta(days=1)


def spec(unit: str = VILLAGE, parent: str | None = TOWNSHIP) -> DecisionSpec:
    return DecisionSpec("硬化村道两公里", unit, "责任单位", parent)


def closing(actor: Any, outcome: RoundOutcome, present: int = 20, **more: Any) -> CloseRound:
    return CloseRound(
        actor=actor,
        outcome=outcome,
        attendance=Attendance(expected=25, present=present),
        votes=Votes(15, 2, 1) if present >= 18 else None,
        summary="会议纪要",
        decision=spec() if outcome is RoundOutcome.CONSENSUS else None,
        **more,
    )


async def test_consensus_is_implemented_under_its_clock_then_evaluated(make_harness: Any) -> None:
    async with make_harness() as h:
        desk = Desk(h)
        handle = await desk.open()
        await desk.act(handle, "opinion", Opinion(actor=V, text="建议走北线"))
        await desk.act(handle, "close_round", closing(V, RoundOutcome.CONSENSUS))
        s = await desk.state(handle)
        assert s.status is DStatus.IMPLEMENTING and s.decision is not None
        await desk.act(handle, "progress", ReportProgress(actor=V, percent=30, note="已开工"))
        await h.sleep_until(s.decision.due + 3 * DAY)
        s = await desk.state(handle)
        assert s.overdue and s.reminders >= 1 and s.decision.warnings_sent == 2
        await desk.act(handle, "complete", Complete(actor=V, summary="已完工"))
        await desk.act(handle, "evaluate", Evaluate(actor=TL, satisfaction=Satisfaction.SATISFIED))
        s = await desk.state(handle)
        assert s.evaluation_deadline is not None
        await h.sleep_until(s.evaluation_deadline + timedelta(seconds=1))
        row = await desk.settled(handle)
        assert (row.status, row.on_time, row.evaluations) == ("closed", False, {"satisfied": 1})
        types = desk.event_types(row.id)
        for expected in ("warning", "overdue", "overdue_reminder", "completed", "closed"):
            assert expected in types
        with Session(h.engine) as session:
            kinds = set(
                session.exec(select(OutboxNotice.kind).where(OutboxNotice.issue_id == row.id))
            )
        assert {"deliberation_overdue", "deliberation_warning", "deliberation_closed"} <= kinds


async def test_three_rounds_without_consensus_go_to_the_leadership_who_adopts(
    make_harness: Any,
) -> None:
    async with make_harness() as h:
        desk = Desk(h)
        handle = await desk.open()
        for _ in range(3):
            await desk.act(handle, "close_round", closing(V, RoundOutcome.NO_CONSENSUS))
        s = await desk.state(handle)
        assert s.status is DStatus.SUBMITTED and len(s.rounds) == 3
        with pytest.raises(WorkflowUpdateFailedError):
            await desk.act(
                handle, "decide", Decide(actor=V, verdict=Verdict.ADOPT, decision=spec())
            )
        await desk.act(handle, "decide", Decide(actor=VL, verdict=Verdict.ADOPT, decision=spec()))
        row = await desk.settled(handle)
        assert (row.status, row.decision_via, row.decision_level) == (
            "implementing",
            "adopt",
            "village",
        )
        with Session(h.engine) as session:
            outcomes = session.exec(
                select(DeliberationRound.outcome).where(DeliberationRound.deliberation_id == row.id)
            ).all()
        assert outcomes == ["no_consensus"] * 3


async def test_hard_goes_up_by_hand_then_by_itself_to_the_county_where_it_is_overdue(
    make_harness: Any,
) -> None:
    async with make_harness() as h:
        desk = Desk(h)
        handle = await desk.open()
        await desk.act(handle, "close_round", closing(V, RoundOutcome.HARD))
        refer = Decide(actor=VL, verdict=Verdict.REFER_UP, reason="涉及两个村")
        result = await desk.act(handle, "decide", refer)
        assert (result.status, result.unit) == (DStatus.OPEN, TOWNSHIP)
        await desk.act(handle, "close_round", closing(T, RoundOutcome.HARD))
        s = await desk.state(handle)
        assert s.submission is not None
        await h.sleep_until(s.submission.deadline + timedelta(seconds=1))
        s = await desk.state(handle)
        assert (s.status, s.unit.code) == (DStatus.OPEN, COUNTY)
        await desk.act(handle, "close_round", closing(C, RoundOutcome.HARD))
        s = await desk.state(handle)
        assert s.submission is not None
        await h.sleep_until(s.submission.deadline + 3 * DAY)
        s = await desk.state(handle)
        assert s.overdue and s.reminders >= 1 and s.status is DStatus.SUBMITTED
        await desk.act(
            handle, "decide", Decide(actor=CL, verdict=Verdict.ADOPT, decision=spec(COUNTY, None))
        )
        row = await desk.settled(handle)
        assert (row.status, row.decision_level, row.overdue) == ("implementing", "county", False)
        types = desk.event_types(row.id)
        assert types.count("referred_up") == 2 and "decision_overdue" in types


async def test_a_refusal_changes_nothing_and_a_poll_counts_households_once(
    make_harness: Any,
) -> None:
    async with make_harness() as h:
        desk = Desk(h)
        handle = await desk.open(Kind.POLL, options=["北线", "南线"])
        await desk.act(handle, "ballot", Ballot(actor=V, household="h1", option="北线"))
        before = await desk.state(handle)
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await desk.act(handle, "ballot", Ballot(actor=V, household="h1", option="南线"))
        assert "(household)" in str(caught.value.cause)
        after = await desk.state(handle)
        assert (after.next_seq, after.tally) == (before.next_seq, {"北线": 1})
        await desk.act(handle, "ballot", Ballot(actor=V, household="h2", option="北线"))
        row = await desk.settled(handle)
        assert row.tally is None and row.ballots == 2  # nothing published while it is open
        close = CloseRound(
            actor=V,
            outcome=RoundOutcome.CONSENSUS,
            attendance=Attendance(expected=40, present=2),
            summary="北线",
            decision=spec(),
        )
        await desk.act(handle, "close_round", close)
        row = await desk.settled(handle)
        assert row.tally == {"北线": 2}


async def test_below_quorum_is_refused_naming_attendance_and_withdraw_ends_it(
    make_harness: Any,
) -> None:
    async with make_harness() as h:
        desk = Desk(h)
        handle = await desk.open()
        before = await desk.state(handle)
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await desk.act(handle, "close_round", closing(V, RoundOutcome.CONSENSUS, present=16))
        assert "(attendance)" in str(caught.value.cause)
        assert (await desk.state(handle)).next_seq == before.next_seq
        await desk.act(handle, "withdraw", DWithdraw(actor=V, reason="已另行解决"))
        row = await desk.settled(handle)
        assert row.status == "withdrawn" and row.closed_at is not None

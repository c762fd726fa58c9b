"""A deliberation about an issue, on the time-skipping server: its opening is an event on the
issue, its refer_up escalates the issue on request, and its completed decision resolves the issue
at the level that decided — all through the issue's own handler and loop."""

from __future__ import annotations

import asyncio
from typing import Any

from domain.deliberation.models import (
    Attendance,
    CloseRound,
    Complete,
    Decide,
    DecisionSpec,
    RoundOutcome,
    Verdict,
    Votes,
)
from domain.models import Accept, EventType, Outcome, Role, Status
from tests.workflows.conftest import TOWNSHIP, VILLAGE, clerk, settled_read_model
from tests.workflows.deliberation_desk import Desk, staff


async def _until(check: Any, harness: Any, handle: Any) -> Any:
    for _ in range(200):
        state = await harness.state(handle)
        if check(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError("the issue never heard of its deliberation")


async def test_a_deliberation_is_on_its_issue_escalates_it_and_resolves_it(
    make_harness: Any,
) -> None:
    async with make_harness() as h:
        issue = await h.register()
        await h.act(issue, "accept", Accept(actor=clerk(VILLAGE)))
        desk = Desk(h)
        ident = (await h.state(issue)).issue.issue_id
        handle = await desk.open(issue_id=ident)
        state = await _until(
            lambda s: any(e.type is EventType.DELIBERATION for e in s.events), h, issue
        )
        assert state.status is Status.IN_PROGRESS
        hard = CloseRound(
            actor=staff(VILLAGE),
            outcome=RoundOutcome.HARD,
            attendance=Attendance(25, 20),
            summary="分歧大",
        )
        await desk.act(handle, "close_round", hard)
        refer = Decide(actor=staff(VILLAGE, Role.LEADER), verdict=Verdict.REFER_UP, reason="跨村")
        await desk.act(handle, "decide", refer)
        state = await _until(lambda s: s.unit.code == TOWNSHIP, h, issue)
        assert state.levels[0].outcome is Outcome.ESCALATED_ON_REQUEST
        consensus = CloseRound(
            actor=staff(TOWNSHIP),
            outcome=RoundOutcome.CONSENSUS,
            attendance=Attendance(25, 20),
            votes=Votes(15, 3, 2),
            summary="达成一致",
            decision=DecisionSpec("镇里统一规划", TOWNSHIP, "永乐街道", "611025"),
        )
        await desk.act(handle, "close_round", consensus)
        await desk.act(handle, "complete", Complete(actor=staff(TOWNSHIP), summary="已完成"))
        state = await _until(lambda s: s.status is Status.AWAITING_FEEDBACK, h, issue)
        assert state.resolution is not None
        assert (state.resolution.level, state.resolution.unit) == ("township", TOWNSHIP)
        await settled_read_model(h, issue)
